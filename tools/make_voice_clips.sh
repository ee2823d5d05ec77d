#!/usr/bin/env bash
# Generate the placeholder voice clips in ui/sounds with espeak-ng (Mandarin voice "cmn").
#
#   apt install espeak-ng && tools/make_voice_clips.sh [OUT_DIR]
#
# These are robotic placeholders so the counter speaks out of the box. A site replaces any
# clip with a recording of the same file name (WAV, any rate aplay plays) in the directory
# named by sound.dir in config.toml; see docs/ui.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-ui/sounds}"
mkdir -p "$out"
command -v espeak-ng >/dev/null || { echo "make_voice_clips: install espeak-ng (apt install espeak-ng)" >&2; exit 1; }

say() {  # say NAME TEXT: 16 kHz mono 16-bit WAV (small, clear enough for speech)
  local tmp
  tmp="$(mktemp --suffix=.wav)"
  espeak-ng -v cmn -s 150 -w "$tmp" "$2"
  python3 - "$tmp" "$out/$1.wav" <<'PY'
import sys, wave, warnings
warnings.simplefilter("ignore", DeprecationWarning)
import audioop
src, dst = sys.argv[1], sys.argv[2]
with wave.open(src) as w:
    ch, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.readframes(w.getnframes())
data, _ = audioop.ratecv(frames, width, ch, rate, 16000, None)
# Trim leading/trailing silence (keep 50 ms) so joined clips sound like one sentence.
step = 160 * width * ch  # 10 ms
loud = [i for i in range(0, len(data), step) if audioop.rms(data[i:i + step], width) > 300]
if loud:
    data = data[max(0, loud[0] - 5 * step):min(len(data), loud[-1] + 6 * step)]
with wave.open(dst, "wb") as o:
    o.setnchannels(ch); o.setsampwidth(width); o.setframerate(16000); o.writeframes(data)
PY
  rm -f "$tmp"
}

say greeting "您好，欢迎光临"
say rating_prompt "请您对本次服务进行评价"
say thanks "感谢您的评价"
say farewell "请慢走，欢迎再来"
say ticket "取号成功，请留意叫号"
say call_please "请"
say call_number "号"
say call_to "到"
say call_window "号窗口办理"
digits=(零 一 二 三 四 五 六 七 八 九)
for i in "${!digits[@]}"; do say "digit_$i" "${digits[$i]}"; done
for l in A B C D E F G H J K L M N P Q R S T U V W X Y Z; do say "letter_$l" "$l"; done
echo "make_voice_clips: wrote $(ls "$out"/*.wav | wc -l) clips to $out"
