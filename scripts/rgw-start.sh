#!/usr/bin/env bash
# Starts a throwaway single-host Ceph RADOS Gateway for tests and benchmarks:
# one monitor, one memstore OSD (RAM only), radosgw on 127.0.0.1:<port>, no
# cephx, no manager.  Everything lives under one directory; stop it with
# scripts/rgw-stop.sh DIR (kills the daemons by PID, removes DIR).
#
#   scripts/rgw-start.sh [DIR]     (default DIR: a new mktemp -d)
#
# Prints DIR on stdout.  DIR/env is a sourceable file exporting:
#   RGW_DIR, RGW_ENDPOINT (http://127.0.0.1:PORT), RGW_BUCKET (created, empty),
#   RGW_ACCESS_KEY, RGW_SECRET_KEY, RGW_REGION, RGW_DNS_NAME,
#   and with TLS: RGW_TLS_PORT, RGW_ENDPOINT_TLS (https://RGW_DNS_NAME:TLS_PORT)
# (the AWS_* variables are not exported, so that tests choose what they set).
# Env: RGW_PORT (default: a free port), RGW_BUCKET (default imgpca-test),
#      RGW_DNS_NAME (default s3.localhost: RGW also accepts virtual-hosted
#      requests for BUCKET.s3.localhost; libcurl resolves *.localhost to the
#      loopback address itself, no /etc/hosts entry needed),
#      RGW_TLS_CERT, RGW_TLS_KEY (PEM files: also serve HTTPS on a second
#      port with this certificate chain and key, beast ssl_endpoint),
#      RGW_TLS_PORT (default: a free port),
#      RGW_MEMSTORE_MB (default 4096: memstore capacity),
#      RGW_TCP_NODELAY (default 1; with 0, beast's Nagle + the client's delayed
#      ACK add ~40 ms to every request on a reused connection: a cheap way to
#      see latency hiding on one host).
set -euo pipefail
dir=${1:-$(mktemp -d /tmp/imgpca-rgw.XXXXXX)}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
log() { echo "rgw-start: $*" >&2; }
fail() { log "$*"; log "logs in $dir/log"; exit 1; }
freeport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
monport=$(freeport)
port=${RGW_PORT:-$(freeport)}
bucket=${RGW_BUCKET:-imgpca-test}
mem=${RGW_MEMSTORE_MB:-4096}
nodelay=${RGW_TCP_NODELAY:-1}
dnsname=${RGW_DNS_NAME:-s3.localhost}
frontend="beast endpoint=127.0.0.1:$port tcp_nodelay=$nodelay"
tlsport=
if [ -n "${RGW_TLS_CERT:-}" ]; then
  [ -r "$RGW_TLS_CERT" ] && [ -r "${RGW_TLS_KEY:-}" ] || { log "RGW_TLS_CERT/RGW_TLS_KEY not readable"; exit 1; }
  tlsport=${RGW_TLS_PORT:-$(freeport)}
  frontend="$frontend ssl_endpoint=127.0.0.1:$tlsport ssl_certificate=$(readlink -f "$RGW_TLS_CERT") ssl_private_key=$(readlink -f "$RGW_TLS_KEY")"
fi
fsid=$(cat /proc/sys/kernel/random/uuid)
mkdir -p "$dir/mon" "$dir/osd" "$dir/log" "$dir/run" "$dir/rgw"
conf=$dir/ceph.conf
cat > "$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$monport
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
ms mon client mode = crc secure
ms client mode = crc secure
ms cluster mode = crc secure
ms service mode = crc secure
mon data avail crit = 0
mon data avail warn = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
run dir = $dir/run
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
keyring = $dir/keyring
[mon.a]
mon data = $dir/mon
public addr = 127.0.0.1
[osd.0]
osd data = $dir/osd
osd objectstore = memstore
memstore device bytes = $((mem * 1024 * 1024))
osd journal size = 0
[client.rgw.a]
rgw frontends = $frontend
rgw data = $dir/rgw
rgw dns name = $dnsname
rgw enable usage log = false
rgw thread pool size = 64
CONF
C=(-c "$conf")
touch "$dir/keyring"
monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$monport]" "$dir/monmap" >/dev/null \
  || fail "monmaptool failed"
ceph-mon "${C[@]}" --mkfs -i a --monmap "$dir/monmap" >"$dir/log/mkfs-mon.out" 2>&1 || fail "ceph-mon --mkfs failed"
ceph-mon "${C[@]}" -i a 2>>"$dir/log/start.err" || fail "ceph-mon failed to start"
for _ in $(seq 1 100); do timeout 5 ceph "${C[@]}" mon stat >/dev/null 2>&1 && break; sleep 0.2; done
timeout 10 ceph "${C[@]}" mon stat >/dev/null 2>&1 || fail "monitor does not answer"
osdid=$(timeout 20 ceph "${C[@]}" osd create) || fail "ceph osd create failed"
ceph-osd "${C[@]}" -i "$osdid" --mkfs >"$dir/log/mkfs-osd.out" 2>&1 || fail "ceph-osd --mkfs failed"
ceph-osd "${C[@]}" -i "$osdid" 2>>"$dir/log/start.err" || fail "ceph-osd failed to start"
for _ in $(seq 1 150); do
  timeout 5 ceph "${C[@]}" osd stat 2>/dev/null | grep -q '1 up' && break; sleep 0.2
done
timeout 5 ceph "${C[@]}" osd stat 2>/dev/null | grep -q '1 up' || fail "osd does not come up"
radosgw "${C[@]}" -n client.rgw.a 2>>"$dir/log/start.err" || fail "radosgw failed to start"
for _ in $(seq 1 300); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2
done
curl -s -o /dev/null "http://127.0.0.1:$port/" || fail "radosgw does not answer on port $port"
if [ -n "$tlsport" ]; then
  for _ in $(seq 1 50); do curl -sk -o /dev/null "https://127.0.0.1:$tlsport/" && break; sleep 0.2; done
  curl -sk -o /dev/null "https://127.0.0.1:$tlsport/" || fail "radosgw does not answer HTTPS on port $tlsport"
fi
ak=IMGPCA$(/usr/bin/python3 -c 'import secrets,string; print("".join(secrets.choice(string.ascii_uppercase+string.digits) for _ in range(14)))')
sk=$(/usr/bin/python3 -c 'import secrets,string; print("".join(secrets.choice(string.ascii_letters+string.digits) for _ in range(40)))')
timeout 60 radosgw-admin "${C[@]}" -n client.rgw.a user create --uid=imgpca --display-name=imgpca \
  --access-key="$ak" --secret-key="$sk" >"$dir/log/user.out" 2>&1 || fail "radosgw-admin user create failed"
cat > "$dir/env" <<ENV
export RGW_DIR='$dir'
export RGW_ENDPOINT='http://127.0.0.1:$port'
export RGW_BUCKET='$bucket'
export RGW_ACCESS_KEY='$ak'
export RGW_SECRET_KEY='$sk'
export RGW_REGION='us-east-1'
export RGW_DNS_NAME='$dnsname'
ENV
[ -n "$tlsport" ] && cat >> "$dir/env" <<ENV
export RGW_TLS_PORT='$tlsport'
export RGW_ENDPOINT_TLS='https://$dnsname:$tlsport'
ENV
AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null \
  AWS_SHARED_CREDENTIALS_FILE=/dev/null timeout 60 /usr/bin/aws --endpoint-url "http://127.0.0.1:$port" \
  s3api create-bucket --bucket "$bucket" >"$dir/log/bucket.out" 2>&1 || fail "bucket creation failed"
log "radosgw on http://127.0.0.1:$port${tlsport:+ and https://$dnsname:$tlsport}, bucket '$bucket' (env file $dir/env)"
echo "$dir"
