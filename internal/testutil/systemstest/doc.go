// Package systemstest proves what mqttdiag knows of the systems besides
// Mosquitto and EMQX. It holds tests only:
//
//   - the Paho tests start a real mosquitto and real Eclipse Paho clients
//     (Debian's paho-mqtt 1.6.1 under python3, and a small program on the
//     Paho C library compiled with gcc), provoke refused CONNACKs, a
//     client-id takeover loop, keepalive timeouts and TLS failures, and
//     check that the built-in pack's Paho signatures fire on the clients'
//     log lines, with the expected fields and nothing unexpected;
//   - the mixed-directory test runs the built mqttdiag binary over a
//     directory holding a Mosquitto, an EMQX, a HiveMQ, a VerneMQ, an AWS
//     IoT Core and a Paho log, and checks that every file is diagnosed with
//     its own system's signatures only.
//
// `make paho-log` reruns the Paho scenarios and writes what the clients
// logged to examples/logs/paho-*.log, the captures the Paho signatures'
// examples must occur in. It knows nothing of how lines are matched beyond
// the public path a log takes (brokerlog.Split and Detect, the matcher over
// the built-in pack).
package systemstest
