package envelope

import (
	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"testing"
	"time"
)

func BenchmarkDecodeOne(b *testing.B) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, c := range []struct{ name, line string }{
		{"plain", "1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))"},
		{"trad", "Nov 18 05:26:40 broker-host mosquitto[31496]: 1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))"},
		{"rfc3339", "2026-11-18T05:26:40.497192-05:00 broker-host mosquitto[31496]: 1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))"},
		{"compose", "mosquitto-1  | 1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))"},
		{"journal", `{"_CAP_EFFECTIVE":"1fffeffffff","_PID":"22615","PRIORITY":"6","_TRANSPORT":"stdout","SYSLOG_IDENTIFIER":"mosquitto","_EXE":"/usr/sbin/mosquitto","_STREAM_ID":"c0185dc799534bbc94f88adcf99c4923","_RUNTIME_SCOPE":"system","MESSAGE":"1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))","_COMM":"mosquitto","_CMDLINE":"mosquitto -c mosquitto.conf","_MACHINE_ID":"0123456789abcdef0123456789abcdef","__REALTIME_TIMESTAMP":"1796461526965902","_HOSTNAME":"broker-host","__CURSOR":"s=ad45b1350e3f4caeaad13bf59d228c0b;i=4;b=df30e9da1df146b6a0013cad2ee326b0;m=76005ea2;t=661df4b2ade8e;x=10bca39a12a5c0cb","_BOOT_ID":"df30e9da1df146b6a0013cad2ee326b0","__MONOTONIC_TIMESTAMP":"1979735714","_UID":"0","_GID":"0"}`},
		{"docker", `{"log":"1795000000: Received PUBLISH from sensor-17 (d0, q1, r0, m3, 'plant/line1/temp', ... (20 bytes))\n","stream":"stderr","time":"2026-11-18T10:26:40.123456789Z"}`},
	} {
		if c.name == "plain" {
			b.Run("split", func(b *testing.B) {
				for b.Loop() {
					brokerlog.SplitIn(c.line, ny)
				}
			})
		}
		b.Run(c.name, func(b *testing.B) {
			d := NewDecoder(Location(ny))
			for b.Loop() {
				d.Decode(c.line)
			}
		})
	}
}
