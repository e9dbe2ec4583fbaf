"""Usage: make_tokenizer.py MODEL_DIR loadgen/ControlPlane.LoadGen/Prompts/PromptBuilder.cs

Writes a byte-level BPE tokenizer.json covering a model's whole vocabulary (for random-weight models that
transformers saves without one): the 256 bytes, the load generator's plain words as single tokens, filler pairs."""
import json, re, sys
folder, prompt_builder = sys.argv[1], sys.argv[2]   # the model folder; loadgen/ControlPlane.LoadGen/Prompts/PromptBuilder.cs
vocab_size = json.load(open(folder + "/config.json"))["vocab_size"]
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs = bs[:]; n = 0
for b in range(256):
    if b not in bs: bs.append(b); cs.append(256 + n); n += 1
byte_char = {b: chr(c) for b, c in zip(bs, cs)}
vocab = {byte_char[b]: b for b in range(256)}
merges = []
def add(left, right):
    tok = left + right
    if tok in vocab: return
    vocab[tok] = len(vocab); merges.append(left + " " + right)
G = byte_char[32]
text = open(prompt_builder).read()
candidates = text[text.index("Candidates ="):]
candidates = candidates[:candidates.index(";")]
for w in " ".join(re.findall(r'"([^"]*)"', candidates)).split():
    prev = G
    for ch in w:
        add(prev, ch); prev = prev + ch
special = 128000 if vocab_size > 128000 else vocab_size - 1
letters = [byte_char[b] for b in range(33, 127)]
for a in letters:
    for b in letters:
        if len(vocab) >= special: break
        add(a, b)
for a in letters:
    for b in letters:
        for c in letters:
            if len(vocab) >= special: break
            add(a + b, c) if (a + b) in vocab else None
assert len(vocab) == special, (len(vocab), special)
added = [{"id": i, "content": f"<|reserved_special_token_{i - special}|>", "special": True} for i in range(special, vocab_size)]
json.dump({"version": "1.0", "added_tokens": added, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False},
           "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": vocab, "merges": merges}}, open(folder + "/tokenizer.json", "w"))
print("tokenizer.json:", len(vocab), "BPE tokens,", len(added), "special")
