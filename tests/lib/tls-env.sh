# Sourced by the browser test runners (tests/e2e/run.sh, tests/sdk/run.sh): a self-signed
# certificate for the files that serve https/wss (useE2E({tls: true})), exported as
# E2E_TLS_CERT/E2E_TLS_KEY; this process and its children trust it as an app trusts a private
# CA (NODE_EXTRA_CA_CERTS), Chromium through its SPKI. The caller removes $e2e_tls_dir.
e2e_tls_dir="$(mktemp -d "${TMPDIR:-/tmp}/oriel-e2e-tls.XXXXXX")"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$e2e_tls_dir/oriel.key" -out "$e2e_tls_dir/oriel.crt" \
  -subj "/CN=oriel e2e" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
export E2E_TLS_CERT="$e2e_tls_dir/oriel.crt" E2E_TLS_KEY="$e2e_tls_dir/oriel.key" NODE_EXTRA_CA_CERTS="$e2e_tls_dir/oriel.crt"
