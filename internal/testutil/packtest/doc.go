// Package packtest proves the built-in Mosquitto signature pack against a
// real broker. It holds tests only: each provoker starts a real mosquitto
// (internal/brokertest), provokes one fault with real clients or crafted
// packets, and checks that the real matcher over the built-in pack
// diagnoses the broker's lines with the expected signature and fields, and
// with nothing it did not expect. Other tests check that every verified
// signature has a provoker, that every example line occurs in a committed
// capture, and that hundreds of healthy clients produce no diagnosis.
//
// `make fault-log` reruns the provokers and writes what the broker printed
// to examples/logs/mosquitto-2.0.11-faults.log.
package packtest
