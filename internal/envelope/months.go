package envelope

import (
	"strings"
	"time"
)

// localMonths are the abbreviated month names journalctl's short output
// prints outside the C locale: it formats the time with strftime's "%b"
// (systemd src/shared/logs-show.c, output_timestamp_realtime, "%b %d
// %H:%M:%S") after setlocale(LC_ALL, ""), so an Italian host writes
// "gen 23 10:45:17". The names are glibc's abmon (localedata/locales/,
// glibc 2.36) for cs_CZ, da_DK, de_DE, es_ES, fi_FI, fr_FR, hu_HU, it_IT,
// nb_NO, nl_NL, pl_PL, pt_BR, pt_PT, ro_RO, ru_RU, sv_SE and tr_TR,
// lower-cased (ASCII letters only: Turkish "Şub" stays as glibc writes
// it); no name stands for two months across them. The English
// names are here in lower case too ("jan" in Dutch and Swedish).
var localMonths = map[string]time.Month{
	"jan": time.January, "feb": time.February, "mar": time.March, "apr": time.April, "may": time.May, "jun": time.June,
	"jul": time.July, "aug": time.August, "sep": time.September, "oct": time.October, "nov": time.November, "dec": time.December,

	"ene": time.January, "gen": time.January, "ian": time.January, "jan.": time.January, "janv.": time.January, "led": time.January, "oca": time.January, "sty": time.January, "tammi": time.January, "янв": time.January,
	"feb.": time.February, "Şub": time.February, "febr": time.February, "fev": time.February, "févr.": time.February, "helmi": time.February, "lut": time.February, "úno": time.February, "şub": time.February, "фев": time.February,
	"bře": time.March, "maalis": time.March, "mars": time.March, "mrt": time.March, "márc": time.March, "mär": time.March, "мар": time.March,
	"abr": time.April, "april": time.April, "avril": time.April, "dub": time.April, "huhti": time.April, "kwi": time.April, "nis": time.April, "ápr": time.April, "апр": time.April,
	"kvě": time.May, "mag": time.May, "mai": time.May, "maj": time.May, "mei": time.May, "máj": time.May, "touko": time.May, "мая": time.May,
	"cze": time.June, "giu": time.June, "haz": time.June, "iun": time.June, "juin": time.June, "juni": time.June, "jún": time.June, "kesä": time.June, "čen": time.June, "июн": time.June,
	"heinä": time.July, "iul": time.July, "juil.": time.July, "juli": time.July, "júl": time.July, "lip": time.July, "lug": time.July, "tem": time.July, "čec": time.July, "июл": time.July,
	"ago": time.August, "août": time.August, "aug.": time.August, "ağu": time.August, "elo": time.August, "sie": time.August, "srp": time.August, "авг": time.August,
	"eyl": time.September, "sep.": time.September, "sept.": time.September, "set": time.September, "syys": time.September, "szept": time.September, "wrz": time.September, "zář": time.September, "сен": time.September,
	"eki": time.October, "loka": time.October, "oct.": time.October, "okt": time.October, "okt.": time.October, "ott": time.October, "out": time.October, "paź": time.October, "říj": time.October, "окт": time.October,
	"kas": time.November, "lis": time.November, "marras": time.November, "nov.": time.November, "ноя": time.November,
	"ara": time.December, "des.": time.December, "dez": time.December, "dic": time.December, "déc.": time.December, "gru": time.December, "joulu": time.December, "pro": time.December, "дек": time.December,
}

// maxMonthName is the longest name in localMonths, in bytes.
const maxMonthName = 12

// monthName reads the month name that starts s and ends at its first
// space: the C locale's "Mmm" (the common case, no lookup), else one of
// localMonths in any case. n is the name's length.
func monthName(s string) (mon time.Month, n int) {
	if len(s) > 3 && s[3] == ' ' {
		if mon = month(s[:3]); mon != 0 {
			return mon, 3
		}
	}
	n = strings.IndexByte(s[:min(len(s), maxMonthName+1)], ' ')
	if n < 3 {
		return 0, 0
	}
	// Lower ASCII letters in place of strings.ToLower, which would
	// allocate for every plain line that starts with a capitalised word;
	// glibc's non-ASCII capitals (Turkish "Şub") are in the table as such.
	var buf [maxMonthName]byte
	for i := 0; i < n; i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c |= 0x20
		}
		buf[i] = c
	}
	return localMonths[string(buf[:n])], n
}
