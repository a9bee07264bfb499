/*
 * fe_relayres.c: relay channels as MCP resources, bridged://channel/NAME.
 */

#include <sys/types.h>

#include <jansson.h>

#include "bridged.h"
#include "fe_relay.h"

/* a send or clear was committed on channel: tell its subscribers */
void
relay_resources_event(const char *channel, const char *op)
{
}
