package signatures

import (
	"os"
	"strings"
	"testing"
)

// Rendering seed 002 reproduces seed 003, the card the project started
// from, byte for byte.
func TestMarkdownReproducesSeedCard(t *testing.T) {
	sigs, err := LoadFile("testdata/seeds/002_63c0e9ab7710950a.txt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/seeds/003_4e21ce44a484eb6d.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := Markdown(sigs[0], "en")
	if strings.TrimRight(got, "\n") != strings.TrimRight(string(want), "\n") {
		t.Errorf("card differs from seed 003:\n--- got\n%s\n--- want\n%s", got, want)
	}
}

func TestMarkdownChinese(t *testing.T) {
	sigs, err := LoadFile("testdata/seeds/002_63c0e9ab7710950a.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := Markdown(sigs[0], "zh")
	for _, want := range []string{
		"# MQTT CONNACK 返回标识符被拒绝 (0x02) 或服务器不可用 (0x03)",
		"## 根本原因\n\nMQTT 代理拒绝客户端连接",
		"1. **在 CONNECT 数据包中将清除会话标志设置为 true",
		"(90% 成功)",
		"## 无效尝试",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("zh card lacks %q:\n%s", want, got)
		}
	}
	// Seed 000 has dead ends without an action: the reason stands alone.
	sigs, err = LoadFile("testdata/seeds/000_6487f11a06e68c2a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := Markdown(sigs[0], "en"); !strings.Contains(got, "\n- Disabling QoS entirely (QoS 0) avoids identifiers but loses delivery guarantees. (50% fail)\n") || strings.Contains(got, "****") {
		t.Errorf("dead end without action rendered wrongly:\n%s", got)
	}
}

// A card says what must follow the line and what ends the fault.
func TestMarkdownFollows(t *testing.T) {
	s := &Signature{ID: "x/stuck", Title: "stuck", Regex: "^step 1 (?P<b>\\S+)$",
		Expects: &Follow{Regex: "^step 2 (?P<b>\\S+)$", Within: "30s"}, EndsWhen: &Follow{Regex: "^connected (?P<b>\\S+)$"}}
	card := Markdown(s, "en")
	for _, want := range []string{"- **Diagnosed when not followed by:** `^step 2 (?P<b>\\S+)$` within 30s\n", "- **Ends at:** `^connected (?P<b>\\S+)$`\n"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
}
