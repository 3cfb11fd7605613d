package signatures

import (
	"fmt"
	"math"
	"strings"
)

// Markdown renders the signature as a card in the layout of the project's
// seed document 003: title, facts, root cause, version table, workarounds
// with their success rates and dead ends with their fail rates. lang "zh"
// uses the Chinese text where the signature has it, English otherwise.
func Markdown(s *Signature, lang string) string {
	zh := lang == "zh"
	l := labels(zh)
	pick := func(en, cn string) string {
		if zh && strings.TrimSpace(cn) != "" {
			return cn
		}
		return en
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", pick(s.Title, s.SignatureZh))
	fmt.Fprintf(&b, "- **%s:** `%s`\n", l.id, s.ID)
	fmt.Fprintf(&b, "- **%s:** %s\n", l.domain, s.Domain)
	fmt.Fprintf(&b, "- **%s:** %s\n", l.category, s.Category)
	if s.ErrorCode != nil && *s.ErrorCode != "" {
		fmt.Fprintf(&b, "- **%s:** `%s`\n", l.errorCode, *s.ErrorCode)
	}
	if s.Severity != "" {
		fmt.Fprintf(&b, "- **%s:** %s\n", l.severity, s.Severity)
	}
	if s.Broker != "" {
		fmt.Fprintf(&b, "- **%s:** %s\n", l.broker, s.Broker)
	}
	if s.LogLevel != "" {
		fmt.Fprintf(&b, "- **%s:** %s\n", l.logLevel, s.LogLevel)
	}
	if s.Expects != nil {
		fmt.Fprintf(&b, "- **%s:** `%s` %s %s\n", l.expects, s.Expects.Regex, l.within, s.Expects.Within)
	}
	if s.EndsWhen != nil {
		fmt.Fprintf(&b, "- **%s:** `%s`\n", l.endsWhen, s.EndsWhen.Regex)
	}
	fmt.Fprintf(&b, "- **%s:** %s\n", l.verification, s.VerificationTier)
	if s.FixSuccessRate != nil {
		fmt.Fprintf(&b, "- **%s:** %s%%\n", l.fixRate, pct(*s.FixSuccessRate))
	} else {
		fmt.Fprintf(&b, "- **%s:** %s\n", l.fixRate, l.unknown)
	}

	fmt.Fprintf(&b, "\n## %s\n\n%s\n", l.rootCause, pick(s.RootCause, s.RootCauseZh))

	if len(s.Versions) > 0 {
		fmt.Fprintf(&b, "\n## %s\n\n", l.versions)
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", l.version, l.status, l.introduced, l.deprecated)
		b.WriteString("|---------|--------|------------|------------|\n")
		for _, v := range s.Versions {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", v.Version, v.Status, dash(v.Introduced), dash(v.Deprecated))
		}
	}

	if len(s.Workarounds) > 0 {
		fmt.Fprintf(&b, "\n## %s\n\n", l.workarounds)
		for i, w := range s.Workarounds {
			action, how := w.Action, w.How
			if zh && i < len(s.WorkaroundsZh) && strings.TrimSpace(s.WorkaroundsZh[i]) != "" {
				// workarounds_zh holds one translated text per workaround.
				action, how = s.WorkaroundsZh[i], ""
			}
			fmt.Fprintf(&b, "%d. **%s**%s\n", i+1, action, rate(w.SuccessRate, l.success))
			if how != "" {
				fmt.Fprintf(&b, "   ```\n   %s\n   ```\n", strings.ReplaceAll(how, "\n", "\n   "))
			}
			if w.SuccessRate != nil && len(w.Sources) > 0 {
				fmt.Fprintf(&b, "   %s: %s\n", l.sources, strings.Join(w.Sources, ", "))
			}
		}
	}

	if len(s.DeadEnds) > 0 {
		fmt.Fprintf(&b, "\n## %s\n\n", l.deadEnds)
		for _, d := range s.DeadEnds {
			if d.Action != "" {
				fmt.Fprintf(&b, "- **%s** — %s%s\n", d.Action, d.WhyFails, rate(d.FailRate, l.fail))
			} else {
				fmt.Fprintf(&b, "- %s%s\n", d.WhyFails, rate(d.FailRate, l.fail))
			}
		}
	}
	return b.String()
}

func pct(f float64) string { return fmt.Sprintf("%d", int(math.Round(f*100))) }

// rate is " (76% success)", or nothing for a rate nothing backs (null).
func rate(r *float64, word string) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf(" (%s%% %s)", pct(*r), word)
}

func dash(s *string) string {
	if s == nil || *s == "" {
		return "—"
	}
	return *s
}

type cardLabels struct {
	id, domain, category, errorCode, severity, broker, logLevel, verification, fixRate  string
	rootCause, versions, version, status, introduced, deprecated, workarounds, deadEnds string
	success, fail, unknown, sources                                                     string
	expects, within, endsWhen                                                           string
}

// labels returns the card's headings in English or Chinese.
func labels(zh bool) cardLabels {
	if zh {
		return cardLabels{
			id: "ID", domain: "领域", category: "类别", errorCode: "错误码", severity: "严重程度",
			broker: "代理", logLevel: "所需日志级别", verification: "验证", fixRate: "修复率",
			rootCause: "根本原因", versions: "版本兼容性", version: "版本", status: "状态",
			introduced: "引入", deprecated: "弃用", workarounds: "解决方法", deadEnds: "无效尝试",
			success: "成功", fail: "失败", unknown: "未知（无来源）", sources: "来源",
			expects: "诊断条件：此后未出现", within: "时限", endsWhen: "故障结束于",
		}
	}
	return cardLabels{
		id: "ID", domain: "Domain", category: "Category", errorCode: "Error Code", severity: "Severity",
		broker: "Broker", logLevel: "Needs log level", verification: "Verification", fixRate: "Fix Rate",
		rootCause: "Root Cause", versions: "Version Compatibility", version: "Version", status: "Status",
		introduced: "Introduced", deprecated: "Deprecated", workarounds: "Workarounds", deadEnds: "Dead Ends",
		success: "success", fail: "fail", unknown: "not known (no source)", sources: "Sources",
		expects: "Diagnosed when not followed by", within: "within", endsWhen: "Ends at",
	}
}
