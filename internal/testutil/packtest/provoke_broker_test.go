package packtest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// hold keeps a TCP port of 127.0.0.1 busy until the test ends.
func hold(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// Faults of the broker itself: start-up, persistence, bridges, websockets,
// access control, and the seed signatures.
var brokerProvokers = []provoker{
	{
		id:     "mosquitto/startup-address-in-use",
		desc:   "listener on a port another process already listens on",
		fields: map[string]string{"reason": "Address already in use"},
		run: func(t *testing.T) output {
			return launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1", hold(t)))
		},
	},
	{
		id:     "mosquitto/startup-bind-address-unavailable",
		desc:   "listener bound to 192.0.2.1, an address this host does not have",
		fields: map[string]string{"reason": "Cannot assign requested address"},
		run: func(t *testing.T) output {
			return launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d 192.0.2.1", brokertest.FreePort(t)))
		},
	},
	{
		id:     "mosquitto/startup-listener-host-unresolvable",
		desc:   "listener bound to a host name that does not resolve, no-such-host.invalid",
		fields: map[string]string{"reason": "Name or service not known"},
		run: func(t *testing.T) output {
			return launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d no-such-host.invalid", brokertest.FreePort(t)))
		},
	},
	{
		id:   "mosquitto/startup-no-listening-sockets",
		desc: "config whose only listener is a websockets listener (2.0.11 counts only MQTT sockets)",
		run: func(t *testing.T) output {
			return launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1\nprotocol websockets", brokertest.FreePort(t)), "allow_anonymous true")
		},
	},
	{
		id:     "mosquitto/startup-pid-file-unwritable",
		desc:   "pid_file in a directory that does not exist",
		fields: map[string]string{},
		run: func(t *testing.T) output {
			return launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)), "pid_file missing-dir/mosquitto.pid")
		},
	},
	{
		id:     "mosquitto/auth-plugin-load-failed",
		desc:   "auth_plugin naming a file that does not exist, and a text file that is not a shared object",
		fields: map[string]string{"plugin": "missing-plugin.so"},
		run: func(t *testing.T) output {
			var all output
			for _, plugin := range []string{"missing-plugin.so", "./not-a-plugin.so"} {
				dir := t.TempDir()
				write(t, dir, "not-a-plugin.so", "this is a text file, not a shared object\n")
				out := launchFailing(t, dir, fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)), "auth_plugin "+plugin)
				all.Log += out.Log
				all.Stderr += out.Stderr
			}
			return all
		},
	},
	{
		id:     "mosquitto/security-file-load-failed",
		desc:   "acl_file that does not exist, and password_file that does not exist",
		fields: map[string]string{"kind": "acl", "file": "missing.acl"},
		also:   []string{"mosquitto/acl-file-unreadable", "mosquitto/password-file-unreadable"},
		run: func(t *testing.T) output {
			a := launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)), "acl_file missing.acl")
			b := launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)), "password_file missing.passwd")
			return output{Log: a.Log + b.Log, Stderr: a.Stderr + b.Stderr}
		},
	},
	{
		id:     "mosquitto/config-unknown-variable",
		desc:   "config with a misspelt option, allow_anonymus",
		fields: map[string]string{"option": "allow_anonymus"},
		also:   []string{"mosquitto/config-error-location"},
		run: func(t *testing.T) output {
			return launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)), "allow_anonymus true")
		},
	},
	{
		id:     "mosquitto/config-invalid-value",
		desc:   "configs with allow_anonymous maybe, and with listener 99999",
		fields: map[string]string{"option": "allow_anonymous", "value": "maybe"},
		also:   []string{"mosquitto/config-error-location"},
		run: func(t *testing.T) output {
			a := launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)), "allow_anonymous maybe")
			b := launchFailing(t, t.TempDir(), "listener 99999 127.0.0.1")
			return output{Log: a.Log + b.Log, Stderr: a.Stderr + b.Stderr}
		},
	},
	{
		id:     "mosquitto/config-error-location",
		desc:   "config with a misspelt option, allow_anonymus, on its line 5",
		fields: map[string]string{"file": "mosquitto.conf", "line": "5"},
		also:   []string{"mosquitto/config-unknown-variable"},
		run: func(t *testing.T) output {
			// LogConf is 2 lines (3 as root); pad so the bad line is line 5 either way.
			conf := []string{fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t))}
			if os.Getuid() != 0 {
				conf = append(conf, "# padding")
			}
			return launchFailing(t, t.TempDir(), append(conf, "allow_anonymus true")...)
		},
	},
	{
		id:     "mosquitto/config-file-unreadable",
		desc:   "mosquitto -c with a config file that does not exist, and with a directory",
		fields: map[string]string{"file": "missing.conf"},
		run: func(t *testing.T) output {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o755); err != nil {
				t.Fatal(err)
			}
			var all output
			for _, conf := range []string{"missing.conf", "conf.d"} {
				p := brokertest.LaunchWith(t, dir, "", brokertest.LaunchOpts{Args: []string{"-c", conf}})
				p.WaitExit(t)
				all.Stderr += p.Stderr()
			}
			return all
		},
	},
	{
		id:     "mosquitto/startup-log-file-unwritable",
		desc:   "log_dest file in a directory that does not exist",
		fields: map[string]string{"file": "missing-dir/mosquitto.log"},
		run: func(t *testing.T) output {
			conf := fmt.Sprintf("log_dest file missing-dir/mosquitto.log\nlog_type all\nlistener %d 127.0.0.1\n", brokertest.FreePort(t))
			if os.Getuid() == 0 {
				conf += "user root\n"
			}
			p := brokertest.Launch(t, t.TempDir(), conf)
			p.Wait(t, `Unable to open log file`)
			p.Stop()
			return output{Stderr: p.Stderr()}
		},
	},
	{
		id:     "mosquitto/startup-unknown-user",
		desc:   "user set to an account that does not exist",
		fields: map[string]string{"user": "mqtt-nobody"},
		run: func(t *testing.T) output {
			// Not launchFailing: LogConf's "user root" would make this a duplicate.
			conf := fmt.Sprintf("log_dest file mosquitto.log\nlog_type all\nlistener %d 127.0.0.1\nuser mqtt-nobody\n", brokertest.FreePort(t))
			p := brokertest.Launch(t, t.TempDir(), conf)
			p.WaitExit(t)
			return output{Log: p.Log(), Stderr: p.Stderr()}
		},
	},
	{
		id:     "mosquitto/password-file-unreadable",
		desc:   "password_file that does not exist",
		fields: map[string]string{"file": "missing.passwd"},
		also:   []string{"mosquitto/security-file-load-failed"},
		run: func(t *testing.T) output {
			return launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)), "password_file missing.passwd")
		},
	},
	{
		id:     "mosquitto/password-file-invalid-entry",
		desc:   "password_file with a salt that is not base64 and an unknown hash type, next to a good entry",
		fields: map[string]string{"username": "carol"},
		run: func(t *testing.T) output {
			dir := t.TempDir()
			passwd(t, dir, "good.passwd", "bob", "bob-secret")
			good, err := os.ReadFile(filepath.Join(dir, "good.passwd"))
			if err != nil {
				t.Fatal(err)
			}
			write(t, dir, "passwd", "alice:$7$101$@@not-base64@@$c2VjcmV0\n"+string(good)+"carol:$9$c2FsdA==$aGFzaA==\n")
			b := startIn(t, dir, "password_file passwd")
			b.Wait(t, `Invalid password hash type for user carol`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/acl-file-unreadable",
		desc:   "acl_file that does not exist",
		fields: map[string]string{"file": "missing.acl"},
		also:   []string{"mosquitto/security-file-load-failed"},
		run: func(t *testing.T) output {
			return launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)), "acl_file missing.acl")
		},
	},
	{
		id:     "mosquitto/acl-file-invalid",
		desc:   "acl_files with a user line without a name, and with an access type that does not exist",
		fields: map[string]string{"file": "acl"},
		also:   []string{"mosquitto/security-file-load-failed"},
		run: func(t *testing.T) output {
			var all output
			for _, acl := range []string{"user\ntopic read a/#\n", "topic readonly a/#\n"} {
				dir := t.TempDir()
				write(t, dir, "acl", acl)
				out := launchFailing(t, dir, fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)), "acl_file acl")
				all.Log += out.Log
			}
			return all
		},
	},
	{
		id:   "mosquitto/startup-local-only-mode",
		desc: "config with no listener at all",
		run: func(t *testing.T) output {
			p := brokertest.Launch(t, t.TempDir(), brokertest.LogConf())
			p.Wait(t, `Starting in local only mode`)
			p.Stop()
			return output{Log: p.Log(), Stderr: p.Stderr()}
		},
	},
	{
		id:     "mosquitto/connection-denied-tcpd",
		desc:   "broker started with ulimit -n 24; raw clients connect until it runs out of descriptors",
		fields: map[string]string{"address": "127.0.0.1"},
		run: func(t *testing.T) output {
			port := brokertest.FreePort(t)
			p := brokertest.LaunchWith(t, t.TempDir(), brokertest.LogConf()+fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port), brokertest.LaunchOpts{NoFile: 24})
			p.Wait(t, `mosquitto version \S+ running`)
			for i := 0; i < 30; i++ {
				c, err := brokertest.Dial(fmt.Sprintf("127.0.0.1:%d", port))
				if err != nil {
					break
				}
				t.Cleanup(func() { _ = c.Close() })
			}
			p.Wait(t, `denied access by tcpd`)
			return output{Log: p.Log(), Stderr: p.Stderr()}
		},
	},
	{
		id:     "mosquitto/persistence-save-failed",
		desc:   "persistence_location in a directory that does not exist; the broker saves on SIGTERM",
		fields: map[string]string{"file": "missing-dir//mosquitto.db.new"},
		also:   []string{"mosquitto/persistence-errno"},
		run: func(t *testing.T) output {
			b := start(t, "persistence true", "persistence_location missing-dir/")
			b.stopInLoop(t)
			b.Wait(t, `Error saving in-memory database`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/persistence-errno",
		desc:   "persistence_location in a directory that does not exist; the broker saves on SIGTERM",
		fields: map[string]string{"reason": "No such file or directory"},
		also:   []string{"mosquitto/persistence-save-failed"},
		run: func(t *testing.T) output {
			b := start(t, "persistence true", "persistence_location missing-dir/")
			b.stopInLoop(t)
			b.Wait(t, `Error saving in-memory database`)
			return b.out()
		},
	},
	{
		id:   "mosquitto/persistence-restore-failed",
		desc: "mosquitto.db replaced by garbage, and by a file of database format version 99",
		also: []string{"mosquitto/persistence-db-invalid"},
		run:  corruptDB,
	},
	{
		id:     "mosquitto/persistence-db-invalid",
		desc:   "mosquitto.db replaced by garbage, and by a file of database format version 99",
		fields: map[string]string{"db_version": "99"},
		also:   []string{"mosquitto/persistence-restore-failed"},
		run:    corruptDB,
	},
	{
		id:     "mosquitto/bridge-connack-not-authorised",
		desc:   "bridges (MQTT 3.1.1 and 5) with a wrong remote_password to a broker with a password_file",
		fields: map[string]string{"reason": "Not authorized"},
		also:   []string{"mosquitto/client-connection-lost", "mosquitto/client-not-authorised", "mosquitto/connack-not-authorised"},
		run: func(t *testing.T) output {
			dir := t.TempDir()
			passwd(t, dir, "passwd", "bridgeuser", "right")
			remote := startIn(t, dir, "password_file passwd", "allow_anonymous false")
			local := start(t, bridgeConf(remote.port, "br-badauth", "mqttv311", "remote_username bridgeuser", "remote_password wrong")+
				bridgeConf(remote.port, "br-badauth5", "mqttv50", "remote_username bridgeuser", "remote_password wrong"))
			local.Wait(t, `Connection Refused: not authorised$`)
			local.Wait(t, `Connection Refused: Not authorized$`)
			return output{Log: local.Log() + remote.Log(), Stderr: local.Stderr()}
		},
	},
	{
		id:     "mosquitto/bridge-connack-refused",
		desc:   "bridges to a fake remote that answers CONNACK 1 (MQTT 3.1.1) and 137 server busy, 138 banned, 155 QoS not supported, 154 retain not supported (MQTT 5)",
		fields: map[string]string{"reason": "Server busy"},
		also:   []string{"mosquitto/client-connection-lost"},
		run: func(t *testing.T) output {
			v3 := fakeRemote(t, []byte{0x20, 2, 0, 1})
			busy := fakeRemote(t, []byte{0x20, 3, 0, 137, 0})
			banned := fakeRemote(t, []byte{0x20, 3, 0, 138, 0})
			qos := fakeRemote(t, []byte{0x20, 3, 0, 155, 0})
			retain := fakeRemote(t, []byte{0x20, 3, 0, 154, 0})
			local := start(t, bridgeConf(v3, "br-old", "mqttv311")+bridgeConf(busy, "br-busy", "mqttv50")+bridgeConf(banned, "br-banned", "mqttv50")+
				bridgeConf(qos, "br-qos", "mqttv50")+bridgeConf(retain, "br-retain", "mqttv50"))
			local.Wait(t, `Connection Refused: unacceptable protocol version$`)
			local.Wait(t, `Connection Refused: Server busy$`)
			local.Wait(t, `Connection Refused: Banned$`)
			local.Wait(t, `Connection Refused: QoS not supported \(will retry\)$`)
			local.Wait(t, `Connection Refused: retain not available \(will retry\)$`)
			return local.out()
		},
	},
	{
		id:     "mosquitto/bridge-connect-failed",
		desc:   "bridge to a port of 127.0.0.1 where nothing listens",
		fields: map[string]string{"reason": "Broken pipe"},
		run: func(t *testing.T) output {
			local := start(t, bridgeConf(brokertest.FreePort(t), "br-down", "mqttv311"))
			local.Wait(t, `Error creating bridge: `)
			return local.out()
		},
	},
	{
		id:   "mosquitto/bridge-address-unresolvable",
		desc: "bridge to broker.invalid, a name that never resolves (RFC 2606)",
		run: func(t *testing.T) output {
			local := start(t, lines(
				"connection br-dns",
				"address broker.invalid:1883",
				"local_clientid local.br-dns",
				"remote_clientid br-dns",
				"topic fwd/# out 0",
				"restart_timeout 1 2",
			))
			local.Wait(t, `Warning: Error resolving bridge address`)
			// The retry after restart_timeout.
			local.WaitCount(t, `Connecting bridge \(step 1\) br-dns`, 2)
			return local.out()
		},
	},
	{
		id:     "mosquitto/startup-running-as-root",
		desc:   "broker started as root with `user root`, as every broker of these tests is when they run as root",
		fields: map[string]string{"account": "root/administrator"},
		run: func(t *testing.T) output {
			if os.Geteuid() != 0 {
				t.Skip("mosquitto prints the warning only when it keeps root privileges; the tests are not running as root")
			}
			b := start(t)
			b.Wait(t, `Warning: Mosquitto should not be run as root/administrator\.$`)
			return b.out()
		},
	},
	{
		id:   "mosquitto/websockets-listener-failed",
		desc: "websockets listener on a port another process already listens on, websockets_log_level 255",
		also: []string{"mosquitto/websockets-lws-error"},
		run:  wsBusyPort,
	},
	{
		id:   "mosquitto/websockets-lws-error",
		desc: "websockets listener on a port another process already listens on, websockets_log_level 255",
		also: []string{"mosquitto/websockets-listener-failed"},
		run:  wsBusyPort,
	},
	{
		id:     "mosquitto/acl-deny-publish",
		desc:   "acl_file granting only allowed/#: publishes to denied/x from MQTT 3.1.1 and 5 clients",
		fields: map[string]string{"client_id": "acl-pub-v5", "topic": "denied/x", "qos": "1"},
		run: func(t *testing.T) output {
			dir := t.TempDir()
			write(t, dir, "acl", "topic readwrite allowed/#\n")
			b := startIn(t, dir, "acl_file acl")
			for _, v := range []string{"v311", "v5"} {
				if out, err := b.pub(t, "-i", "acl-pub-"+v, "-V", "mqtt"+v, "-q", "1", "-t", "denied/x", "-m", "reading"); err != nil {
					t.Fatalf("mosquitto_pub: %v %s", err, out)
				}
			}
			b.Wait(t, `Denied PUBLISH from acl-pub-v5`)
			b.Wait(t, `Client acl-pub-v5 disconnected\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/acl-dangerous-client-id",
		desc:   "pattern ACL with %c; a client whose id contains + publishes",
		fields: map[string]string{"client_id": "dev+1"},
		also:   []string{"mosquitto/acl-deny-publish"},
		run: func(t *testing.T) output {
			dir := t.TempDir()
			write(t, dir, "acl", "pattern readwrite devices/%c/#\n")
			b := startIn(t, dir, "acl_file acl")
			if out, err := b.pub(t, "-i", "dev+1", "-q", "1", "-t", "devices/x", "-m", "x"); err != nil {
				t.Fatalf("mosquitto_pub: %v %s", err, out)
			}
			if out, err := b.pub(t, "-i", "ops-console", "-u", "ops#1", "-q", "1", "-t", "devices/x", "-m", "x"); err != nil {
				t.Fatalf("mosquitto_pub: %v %s", err, out)
			}
			b.Wait(t, `dangerous client id`)
			b.Wait(t, `dangerous username`)
			b.Wait(t, `Client ops-console disconnected\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/config-deprecated-option",
		desc:   "config with the 2.0-deprecated 'port' and 'bind_address' (default listener on 127.0.0.1) and message_size_limit",
		fields: map[string]string{"option": "port"},
		run: func(t *testing.T) output {
			b := start(t, fmt.Sprintf("port %d", brokertest.FreePort(t)), "bind_address 127.0.0.1", "message_size_limit 2000")
			b.Wait(t, `The 'bind_address' option is now deprecated`)
			b.Wait(t, `The 'port' option is now deprecated`)
			b.Wait(t, `Note: It is recommended to replace .message_size_limit.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/acl-pattern-without-substitution",
		desc:   "acl_file with 'pattern readwrite sensors/#', a pattern without %c or %u",
		fields: map[string]string{"pattern": "sensors/#"},
		run: func(t *testing.T) output {
			dir := t.TempDir()
			write(t, dir, "acl", "pattern readwrite sensors/#\npattern read devices/%c/#\n")
			b := startIn(t, dir, "acl_file acl")
			b.Wait(t, `Warning: ACL pattern 'sensors/#'`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/persistence-file-damaged",
		desc:   "persistence true with an empty mosquitto.db (a save cut short by a full disk or a crash)",
		fields: map[string]string{},
		run: func(t *testing.T) output {
			dir := t.TempDir()
			write(t, dir, "mosquitto.db", "")
			b := startIn(t, dir, "persistence true", "persistence_location ./")
			b.Wait(t, `Warning: Persistence file is empty\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/config-path-unusable",
		desc:   "include_dir naming a directory that does not exist",
		fields: map[string]string{"file": "missing.d"},
		also:   []string{"mosquitto/config-error-location"},
		run: func(t *testing.T) output {
			return launchFailing(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)), "include_dir missing.d")
		},
	},
	{
		id:     "communication/mqtt-publish-identifier-already-in-use",
		desc:   "two mosquitto_sub with one client id",
		fields: map[string]string{"client_id": "sensor 42/ä"},
		run: func(t *testing.T) output {
			m := brokertest.StartMosquitto(t)
			m.Takeover(t, "sensor 42/ä")
			return fileOutput(t, m.LogPath)
		},
	},
	{
		id:     "communication/mqtt-publish-identifier-in-use",
		desc:   "raw MQTT 3.1.1 CONNECT with an empty client id and clean session off; MQTT 3.1.1 bridges to a fake remote answering CONNACK 2 and 3",
		fields: map[string]string{"address": "127.0.0.1", "reason_code": "2"},
		also:   []string{"mosquitto/protocol-error-disconnect", "mosquitto/client-connection-lost"},
		run: func(t *testing.T) output {
			m := brokertest.StartMosquitto(t)
			m.IdentifierRejected(t)
			m.WaitLog(t, 0, `Client <unknown> disconnected due to protocol error\.`)
			out := fileOutput(t, m.LogPath)
			// The bridge side of the same refusals.
			rejected := fakeRemote(t, []byte{0x20, 2, 0, 2})
			unavailable := fakeRemote(t, []byte{0x20, 2, 0, 3})
			local := start(t, bridgeConf(rejected, "br-idrej", "mqttv311")+bridgeConf(unavailable, "br-unavail", "mqttv311"))
			local.Wait(t, `Connection Refused: identifier rejected$`)
			local.Wait(t, `Connection Refused: broker unavailable$`)
			out.Log += local.Log()
			out.Stderr += local.Stderr()
			return out
		},
	},
	{
		id:     "communication/mqtt-packet-identifier-in-use",
		desc:   "MQTT 5 subscriber answers a QoS 1 delivery with PUBACK reason code 0x91",
		fields: map[string]string{"client_id": "v5sub", "mid": "1"},
		run: func(t *testing.T) output {
			m := brokertest.StartMosquitto(t)
			m.PacketIDInUse(t, "v5sub")
			return fileOutput(t, m.LogPath)
		},
	},
}

func fileOutput(t *testing.T, path string) output {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return output{Log: string(b)}
}

// bridgeConf is a bridge connection to 127.0.0.1:port with fixed client
// ids, so that the lines do not name this host, and a fast retry.
func bridgeConf(port int, name, version string, extra ...string) string {
	return lines(append([]string{
		"connection " + name,
		fmt.Sprintf("address 127.0.0.1:%d", port),
		"bridge_protocol_version " + version,
		"local_clientid local." + name,
		"remote_clientid " + name,
		"topic fwd/# out 0",
		"restart_timeout 1 2",
	}, extra...)...)
}

// fakeRemote is a bridge's remote end that answers every CONNECT with
// connack and then waits for the bridge to close the connection.
func fakeRemote(t *testing.T, connack []byte) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = l.Close(); <-done })
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := brokertest.Wrap(conn)
				if _, err := r.Expect(1, 10*time.Second); err != nil {
					return
				}
				_ = r.SendBytes(connack)
				_, _ = r.Read(10 * time.Second)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func corruptDB(t *testing.T) output {
	var all output
	for _, db := range [][]byte{
		[]byte("this is not a mosquitto database, it is a text file\n"),
		append([]byte("\x00\xb5\x00mosquitto db"), 0, 0, 0, 0, 0, 0, 0, 99),
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "mosquitto.db"), db, 0o644); err != nil {
			t.Fatal(err)
		}
		out := launchFailing(t, dir, "persistence true", "persistence_location ./", fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)))
		all.Log += out.Log
		all.Stderr += out.Stderr
	}
	return all
}

func wsBusyPort(t *testing.T) output {
	return launchFailing(t, t.TempDir(),
		fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t)),
		fmt.Sprintf("listener %d 127.0.0.1\nprotocol websockets", hold(t)),
		"websockets_log_level 255")
}
