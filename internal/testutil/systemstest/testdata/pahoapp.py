"""A small application on paho-mqtt, as the Paho tests drive it.

It logs the way applications on paho-mqtt commonly do: the library's own
messages through logging after Client.enable_logger() (logger
"paho.mqtt.client"), and the application's view of connect and
disconnect results in the library's words, connack_string() and
error_string(). It runs until the test stops it (SIGTERM) or, with
--once, until the first CONNACK or connection failure.
"""
import argparse
import logging
import signal
import ssl
import sys
import time

import paho.mqtt.client as mqtt

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--id", default="")
p.add_argument("--user")
p.add_argument("--password-file")
p.add_argument("--keepalive", type=int, default=60)
p.add_argument("--ca")
p.add_argument("--v5", action="store_true")
p.add_argument("--once", action="store_true")
p.add_argument("--log", required=True)
a = p.parse_args()

logging.basicConfig(filename=a.log, level=logging.DEBUG,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("app")

proto = mqtt.MQTTv5 if a.v5 else mqtt.MQTTv311
if a.v5:
    c = mqtt.Client(client_id=a.id, protocol=proto)
else:
    c = mqtt.Client(client_id=a.id, clean_session=True, protocol=proto)
c.enable_logger()
if a.user:
    pw = None
    if a.password_file:
        with open(a.password_file) as f:
            pw = f.read().strip()
    c.username_pw_set(a.user, pw)
if a.ca:
    c.tls_set(ca_certs=a.ca)
c.reconnect_delay_set(min_delay=1, max_delay=1)

done = False


def on_connect(client, userdata, flags, rc, properties=None):
    global done
    if a.v5:
        if rc.value >= 128:
            log.error("connect failed: %s", rc)
        else:
            log.info("connected")
    elif rc != 0:
        log.error("connect failed: %s", mqtt.connack_string(rc))
    else:
        log.info("connected: %s", mqtt.connack_string(rc))
    if a.once:
        done = True


def on_disconnect(client, userdata, rc, properties=None):
    if rc != 0:
        log.warning("unexpected disconnect: %s", mqtt.error_string(rc) if isinstance(rc, int) else rc)


c.on_connect = on_connect
c.on_disconnect = on_disconnect


def stop(*_):
    global done
    done = True


signal.signal(signal.SIGTERM, stop)
try:
    c.connect(a.host, a.port, keepalive=a.keepalive)
except (ssl.SSLError, OSError) as e:
    log.error("connect failed: %s", e)
    sys.exit(2)
c.loop_start()
while not done:
    time.sleep(0.05)
c.disconnect()
c.loop_stop()
