#!/bin/sh
# Bounded load for the demo: LOADGEN_DURATION seconds (default 3600) of
# requests through the two proxies, about LOADGEN_RPS per second (default
# 10), then it exits. Each line of the mix is "weight host path"; the demo
# services are go-httpbin, so the path picks the status code and latency:
#   /status/503   a 503        /delay/0.4   200 after 400 ms
# Through the mesh the requests are counted per service as
# traefik_service_requests_total{service="forma3d-<svc>-8080@http",code=…}.
set -eu

DURATION="${LOADGEN_DURATION:-3600}"
RPS="${LOADGEN_RPS:-10}"
PROXIES="${LOADGEN_PROXIES:-proxy-a:5000 proxy-b:5000}"

MIX='
60 orders.forma3d.maesh /status/200
4 orders.forma3d.maesh /status/503
6 orders.forma3d.maesh /delay/0.4
70 catalog.forma3d.maesh /status/200
5 catalog.forma3d.maesh /delay/0.2
15 payments.forma3d.maesh /status/200
2 payments.forma3d.maesh /status/500
3 payments.forma3d.maesh /delay/1.5
'

total=$(echo "$MIX" | awk 'NF { s += $1 } END { print s }')
end=$(( $(date +%s) + DURATION ))
sleep_s=$(awk -v r="$RPS" 'BEGIN { printf "%.3f", 1 / r }')
n=0
echo "loadgen: ${RPS} req/s for ${DURATION}s through ${PROXIES}"
while [ "$(date +%s)" -lt "$end" ]; do
	pick=$(awk -v t="$total" -v seed="$n$$" 'BEGIN { srand(seed); print int(rand() * t) }')
	line=$(echo "$MIX" | awk -v p="$pick" 'NF { s += $1; if (p < s) { print $2, $3; exit } }')
	host=${line% *}
	path=${line#* }
	set -- $PROXIES
	shift $(( n % $# ))
	proxy=$1
	# Background: a slow answer does not hold the rate down; curl's
	# --max-time bounds each request.
	curl -s -o /dev/null --max-time 10 -H "Host: ${host}" "http://${proxy}${path}" &
	n=$(( n + 1 ))
	sleep "$sleep_s"
done
wait
echo "loadgen: sent ${n} requests; done"
