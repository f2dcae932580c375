#!/bin/sh
# playwright-core launches this instead of /usr/bin/chromium, so that Chromium runs inside the
# client network namespace named by $E2E_NETNS (created by the test) while the driver keeps
# talking to it over the launch pipes, which do not care about namespaces.
[ -n "${E2E_NETNS:-}" ] || { echo "chromium-netns.sh: E2E_NETNS not set" >&2; exit 2; }
exec ip netns exec "$E2E_NETNS" /usr/bin/chromium "$@"
