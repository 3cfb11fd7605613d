package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/sink"
)

const addressInUseID = "mosquitto/startup-address-in-use"

// A real mosquitto that cannot start (another real mosquitto holds its
// port) logs its error and nothing more. Its critical alert in a real
// Alertmanager stays active past --alert-resolve-timeout, because the
// signature says what ends it (ends_when: the broker's next "running");
// once the port is free and the broker starts cleanly, writing to the
// same log, the alert resolves.
func TestAlertmanagerStartFailureStaysFiring(t *testing.T) {
	t.Parallel() // a subprocess and its own temp dir, ports and state: independent of the others
	am := brokertest.StartAlertmanager(t)
	holder := brokertest.StartMosquitto(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "mosquitto.log")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The resolve timeout is ten re-send intervals, so that a resolution
	// by the ending line (at once) is told from one by the timeout.
	const resolve, resend = 10 * time.Second, time.Second
	p := startMqttdiag(t, nil, "run", "--log-level", "debug", "--alertmanager", am.URL, "--instance", "e2e-start",
		"--alert-resolve-timeout", resolve.String(), "--alert-resend-interval", resend.String(),
		"--batch-wait", "50ms", log)
	p.waitLog(t, "following", 60*time.Second)

	conf := brokertest.LogConf() + fmt.Sprintf("persistence false\nlistener %d 127.0.0.1\nallow_anonymous true\n", holder.Port)
	failed := brokertest.Launch(t, dir, conf)
	if code := failed.WaitExit(t); code == 0 {
		t.Fatalf("the second broker on port %d started; log:\n%s", holder.Port, failed.Log())
	}
	d, _ := p.waitDiag(t, 30*time.Second, func(d *sink.Diagnosis) bool { return d.SignatureID == addressInUseID })
	if !d.Open || d.Severity != "critical" {
		t.Errorf("diagnosis open %v severity %s: want an open critical fault", d.Open, d.Severity)
	}
	const name = "MqttdiagMosquittoStartupAddressInUse"
	firing := func(as []brokertest.AMAlert) *brokertest.AMAlert {
		for i := range as {
			if as[i].Labels["alertname"] == name && as[i].Labels["instance"] == "e2e-start" {
				return &as[i]
			}
		}
		return nil
	}
	am.WaitAlerts(t, 30*time.Second, "the start-up failure alert", func(as []brokertest.AMAlert) bool { return firing(as) != nil })
	seen := time.Now()

	// Nothing more is logged. Without ends_when the alert would resolve
	// the resolve timeout after the line; it must still fire two re-send
	// intervals past that.
	past := seen.Add(resolve + 2*resend)
	as := am.WaitAlerts(t, 90*time.Second, "the resolve timeout to pass, or the alert to resolve", func(as []brokertest.AMAlert) bool {
		return firing(as) == nil || time.Now().After(past)
	})
	al := firing(as)
	if al == nil {
		t.Fatalf("the alert resolved %v after it fired, while the broker is still down (resolve timeout %v)", time.Since(seen).Round(100*time.Millisecond), resolve)
	}
	if al.Status.State != "active" || !al.EndsAt.After(d.ObservedAt.Add(resolve)) {
		t.Errorf("state %s, endsAt %v: want active past %v", al.Status.State, al.EndsAt, d.ObservedAt.Add(resolve))
	}

	// The port is freed and the broker starts cleanly, into the same log.
	holder.Signal(t, syscall.SIGTERM)
	waitPortFree(t, holder.Port)
	ok := brokertest.Launch(t, dir, conf)
	ok.Wait(t, `mosquitto version \S+ running`)
	started := time.Now()
	end, _ := p.waitDiag(t, 30*time.Second, func(d *sink.Diagnosis) bool { return d.SignatureID == addressInUseID && d.EndedAt != nil })
	if end.Open || end.Source.LineNumber <= d.Source.LineNumber {
		t.Errorf("ending open %v at line %d (fault at line %d)", end.Open, end.Source.LineNumber, d.Source.LineNumber)
	}
	am.WaitAlerts(t, 30*time.Second, "the alert resolving", func(as []brokertest.AMAlert) bool { return firing(as) == nil })
	took := time.Since(started)
	t.Logf("resolved %v after the broker logged running (re-send interval %v)", took.Round(100*time.Millisecond), resend)
	if took >= resolve {
		t.Errorf("resolved %v after the broker started: by the resolve timeout (%v), not by its ending line", took, resolve)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// waitPortFree waits until nothing accepts connections on port: the
// holder has closed its listener.
func waitPortFree(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("port %d still accepts connections 30 s after SIGTERM", port)
		}
		time.Sleep(50 * time.Millisecond) // polling a port: there is no event to wait on
	}
}

// A real mosquitto bridges to a host that does not resolve and to a TCP
// listener that accepts and never answers. Neither prints an error in
// the log (the resolve warning goes to stderr before the log is open),
// and both are diagnosed as the absence of the line that should follow:
// no step 2 for the first, no CONNACK for the second, within the
// signatures' 30 s.
func TestBridgeAbsenceRealBroker(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c // held open, never answered
		}
	}()
	t.Cleanup(func() {
		_ = silent.Close()
		for c := range accepted {
			_ = c.Close()
		}
	})
	m := brokertest.StartMosquitto(t,
		"connection unres",
		"address nonexistent.invalid:1883",
		"remote_clientid br-unres",
		"topic fwd/# out 0",
		"restart_timeout 2",
		"connection silent",
		fmt.Sprintf("address %s", silent.Addr()),
		"remote_clientid br-silent",
		"topic fwd/# out 0",
		"restart_timeout 2",
	)
	p := startMqttdiag(t, nil, "run", "--from-beginning", m.LogPath)
	got := map[string]*sink.Diagnosis{}
	for len(got) < 2 {
		d, _ := p.waitDiag(t, 90*time.Second, func(d *sink.Diagnosis) bool {
			return d.SignatureID == "mosquitto/bridge-resolve-stuck" || d.SignatureID == "mosquitto/bridge-connack-missing"
		})
		if prev := got[d.SignatureID]; prev != nil {
			t.Errorf("%s diagnosed twice: %v and %v", d.SignatureID, prev.Fields, d.Fields)
		}
		got[d.SignatureID] = d
	}
	if d := got["mosquitto/bridge-resolve-stuck"]; d.Fields["bridge"] != "unres" || d.Fields["host"] != "nonexistent.invalid" || !d.Open {
		t.Errorf("stuck resolving: fields %v open %v", d.Fields, d.Open)
	}
	if d := got["mosquitto/bridge-connack-missing"]; d.Fields["client_id"] != "br-silent" || !d.Open {
		t.Errorf("no CONNACK: fields %v open %v", d.Fields, d.Open)
	}
	for _, d := range got {
		if d.LogTime == nil || d.ObservedAt.Sub(*d.LogTime) < 30*time.Second-time.Second {
			t.Errorf("%s: diagnosed at %v for a line of %v: before the 30 s had passed", d.SignatureID, d.ObservedAt, d.LogTime)
		}
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}
