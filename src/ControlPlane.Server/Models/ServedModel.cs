using ControlPlane.Tokenization;

namespace ControlPlane.Server.Models;

/// <summary>A model the gateway serves: its tokenizer, context length and chat template.</summary>
public sealed record ServedModel(string Name, ITokenizer Tokenizer, int MaxContextTokens, string ChatTemplate, DateTimeOffset Created, string OwnedBy);
