"""Reference side of the GPU engine benchmark, with Hugging Face transformers on the same machine.

  python3 hf_reference.py make-small DIR            a small Llama (fp32) saved by transformers, for the greedy check
  python3 hf_reference.py greedy DIR OUT PROMPT N   transformers' greedy token ids (fp32)
  python3 hf_reference.py make-8b DIR               a Llama-3-8B-shaped model, random bf16 weights, saved by transformers
  python3 hf_reference.py make-8b-config DIR        that model's config.json alone (for benchmarks that need its shape only)
  python3 hf_reference.py bench DIR OUT             transformers' decode and prefill throughput on the same workloads
"""
import json, sys, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM

def small_config():
    return LlamaConfig(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8,
                       num_key_value_heads=2, vocab_size=1024, max_position_embeddings=2048, rope_theta=500000.0,
                       rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                     "original_max_position_embeddings": 256},
                       torch_dtype="float32", tie_word_embeddings=False,
                       # wider than the default 0.02, so random logits are well apart and greedy choices are not near-ties
                       initializer_range=0.25)

def llama3_8b_config():
    return LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=8, vocab_size=128256, max_position_embeddings=8192, rope_theta=500000.0,
                       rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                     "original_max_position_embeddings": 8192},
                       rms_norm_eps=1e-5, torch_dtype="bfloat16", tie_word_embeddings=False)

def sync():
    torch.cuda.synchronize()

cmd = sys.argv[1]
if cmd == "make-small":
    torch.manual_seed(0)
    LlamaForCausalLM(small_config()).save_pretrained(sys.argv[2], safe_serialization=True)
elif cmd == "greedy":
    model = LlamaForCausalLM.from_pretrained(sys.argv[2], torch_dtype=torch.float32).cuda().eval()
    prompt = [int(x) for x in sys.argv[4].split(",")]
    n = int(sys.argv[5])
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt]).cuda(), max_new_tokens=n, min_new_tokens=n, do_sample=False)
    json.dump({"tokens": out[0, len(prompt):].tolist()}, open(sys.argv[3], "w"))
elif cmd == "make-8b":
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(llama3_8b_config()).to(torch.bfloat16)
    model.save_pretrained(sys.argv[2], safe_serialization=True, max_shard_size="5GB")
elif cmd == "make-8b-config":
    llama3_8b_config().save_pretrained(sys.argv[2])
elif cmd == "bench":
    model = LlamaForCausalLM.from_pretrained(sys.argv[2], torch_dtype=torch.bfloat16).cuda().eval()
    results = []
    steps = 32
    with torch.no_grad():
        for context in (512, 2048):
            for batch in (1, 8, 32, 64):
                ids = torch.randint(1000, 100000, (batch, context), device="cuda")
                model.generate(ids, max_new_tokens=2, min_new_tokens=2, do_sample=False)  # warm-up
                sync(); t0 = time.perf_counter()
                model.generate(ids, max_new_tokens=1, min_new_tokens=1, do_sample=False)
                sync(); t1 = time.perf_counter()
                model.generate(ids, max_new_tokens=steps + 1, min_new_tokens=steps + 1, do_sample=False)
                sync(); t2 = time.perf_counter()
                decode = (t2 - t1) - (t1 - t0)
                row = {"kind": "decode", "batch": batch, "context": context, "steps": steps,
                       "tokensPerSecond": batch * steps / decode, "msPerStep": decode * 1000 / steps}
                results.append(row); print(json.dumps(row), flush=True)
        for batch, length in ((1, 2048), (8, 512), (1, 2048), (8, 512)):
            ids = torch.randint(1000, 100000, (batch, length), device="cuda")
            sync(); t0 = time.perf_counter()
            model(ids)
            sync(); t1 = time.perf_counter()
            row = {"kind": "prefill", "batch": batch, "length": length, "seconds": t1 - t0, "tokensPerSecond": batch * length / (t1 - t0)}
            results.append(row); print(json.dumps(row), flush=True)
    json.dump({"results": results}, open(sys.argv[3], "w"), indent=1)
