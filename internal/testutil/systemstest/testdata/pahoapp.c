/*
 * A small application on the Paho C client (MQTTClient), as the Paho tests
 * drive it. It prints what the Paho C samples print (src/samples/
 * MQTTClient_publish.c, MQTTAsync_subscribe.c, v1.3.12): "Failed to
 * connect, return code %d", "Connection lost", "     cause: %s", with
 * MQTTClient_strerror() beside the code. The library's trace goes to
 * stdout when MQTT_C_CLIENT_TRACE=ON (or to the file it names).
 *
 * usage: pahoapp URI CLIENTID KEEPALIVE SECONDS [CAFILE]
 * It connects, stays connected SECONDS (reconnecting when the connection is
 * lost), and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "MQTTClient.h"

static volatile int lost;

static void connlost(void *context, char *cause)
{
	printf("\nConnection lost\n");
	if (cause)
		printf("     cause: %s\n", cause);
	fflush(stdout);
	lost = 1;
}

static int msgarrvd(void *context, char *topic, int len, MQTTClient_message *m)
{
	MQTTClient_freeMessage(&m);
	MQTTClient_free(topic);
	return 1;
}

int main(int argc, char *argv[])
{
	MQTTClient client;
	MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
	MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
	int rc, seconds;
	time_t end;

	if (argc < 5) {
		fprintf(stderr, "usage: %s URI CLIENTID KEEPALIVE SECONDS [CAFILE]\n", argv[0]);
		return 2;
	}
	if ((rc = MQTTClient_create(&client, argv[1], argv[2], MQTTCLIENT_PERSISTENCE_NONE, NULL)) != MQTTCLIENT_SUCCESS) {
		printf("Failed to create client, return code %d\n", rc);
		return 1;
	}
	MQTTClient_setCallbacks(client, NULL, connlost, msgarrvd, NULL);
	opts.keepAliveInterval = atoi(argv[3]);
	opts.cleansession = 1;
	seconds = atoi(argv[4]);
	if (argc >= 6) {
		ssl.trustStore = argv[5];
		ssl.enableServerCertAuth = 1;
		opts.ssl = &ssl;
	}
	end = time(NULL) + seconds;
	do {
		lost = 0;
		if ((rc = MQTTClient_connect(client, &opts)) != MQTTCLIENT_SUCCESS) {
			printf("Failed to connect, return code %d (%s)\n", rc, MQTTClient_strerror(rc));
			fflush(stdout);
			break;
		}
		while (!lost && time(NULL) < end)
			usleep(50000);
	} while (lost && time(NULL) < end);
	if (!lost && rc == MQTTCLIENT_SUCCESS)
		MQTTClient_disconnect(client, 1000);
	MQTTClient_destroy(&client);
	return rc == MQTTCLIENT_SUCCESS ? 0 : 1;
}
