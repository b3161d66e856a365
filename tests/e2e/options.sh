# Options: grouped --help, --config with command-line override.
source "$(dirname "$0")/lib.sh" "$@"

train --help >"$TMP/help"
for group in 'Data and model' 'Training' 'Checkpoints and output' 'Parallelism' 'General'; do
  grep -q "$group" "$TMP/help" || fail "--help lacks group '$group'"
done
for opt in --data --hidden --epochs --batch-size --lr --lr-schedule --seed --checkpoint-dir --resume --max-steps --metrics --config --threads --collective-timeout --help; do
  grep -q -- "$opt" "$TMP/help" || fail "--help lacks $opt"
done
score --help | grep -q -- '--json' || fail "digitnet-score --help lacks --json"
pass "--help is grouped and complete"

cat >"$TMP/run.ini" <<INI
# a config file holds the same options as the command line
hidden = 16
epochs = 3
batch-size = 500
max-steps = 5
checkpoint-dir = $TMP/from-config
INI
# The command line wins over the file: --max-steps 3.
train --data "$DATA" --config "$TMP/run.ini" --max-steps 3 --quiet
[[ -f $TMP/from-config/ckpt-00000003.pb ]] || fail "config file or override not applied"
layers=$("$ROOT/scripts/read_checkpoint.py" "$TMP/from-config/ckpt-00000003.pb" | json '["layers"]')
[[ $layers == "[784, 16, 10]" ]] || fail "config hidden = 16 not applied: $layers"
pass "--config applied, command line overrides it"
