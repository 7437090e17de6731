#!/usr/bin/env bash
# Browser check of the chat page (not part of `dotnet test`): starts `minnow serve` on a free loopback port with
# the default model, loads / in headless Chromium (Debian's chromium package, /usr/bin/chromium, or $CHROMIUM),
# sends a message, waits for the streamed reply and saves a screenshot (default tests/browser/out/chat.png).
# Needs Node.js 20+ and npm; installs playwright-core (which downloads no browser) from package-lock.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
screenshot="${1:-$here/out/chat.png}"
mkdir -p "$(dirname "$screenshot")"

dotnet build "$repo/src/Minnow.Cli" -c Release -v quiet -nologo > /dev/null
(cd "$here" && npm ci --no-audit --no-fund --silent)

work="$(mktemp -d)"
dotnet "$repo/src/Minnow.Cli/bin/Release/net10.0/Minnow.Cli.dll" serve --port 0 --json > "$work/serve.json" 2> "$work/serve.log" &
server=$!
trap 'kill "$server" 2> /dev/null || true; wait "$server" 2> /dev/null || true; rm -rf "$work"' EXIT

for _ in $(seq 1 240); do
  [ -s "$work/serve.json" ] && break
  kill -0 "$server" 2> /dev/null || { echo "minnow serve exited:"; cat "$work/serve.log"; exit 1; }
  sleep 0.5
done
url="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).url)' "$work/serve.json")"
echo "server at $url"
status=0
node "$here/chat.mjs" "$url" "$screenshot" || status=$?
echo "--- server log"
cat "$work/serve.log"
exit $status
