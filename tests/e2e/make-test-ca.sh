#!/usr/bin/env bash
# make-test-ca.sh DIR: a test certificate authority and a server certificate it signed, for
# 127.0.0.1 and localhost, valid for two days: DIR/ca.pem, DIR/ca.key, DIR/server.pem,
# DIR/server.key. With a second argument NAME, the server files are DIR/NAME.pem and
# DIR/NAME.key, signed by the CA already in DIR (a renewed certificate for reload tests).
set -euo pipefail
dir="$1"
name="${2:-server}"
cd "$dir"
if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=profiled e2e test CA" 2>/dev/null
fi
openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
  -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$name.ext"
openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.pem" \
  -days 2 -extfile "$name.ext" 2>/dev/null
rm -f "$name.csr" "$name.ext"
