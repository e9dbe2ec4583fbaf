using ControlPlane.Requests;
using ControlPlane.Tokenization;

namespace ControlPlane.Server.Models;

/// <summary>A model the gateway serves: its tokenizer, context length and chat template, and its latency targets.</summary>
public sealed record ServedModel(string Name, ITokenizer Tokenizer, int MaxContextTokens, string ChatTemplate, DateTimeOffset Created, string OwnedBy)
{
    /// <summary>Time to the first token the model aims at, ms (<c>ModelConfig.SloTtftMs</c>, or a learned model's card).</summary>
    public double SloTtftMs { get; init; } = 1000;

    /// <summary>Time per output token the model aims at, ms.</summary>
    public double SloTpotMs { get; init; } = 100;

    /// <summary>The dispatch policy requests for this model are placed by; null: the gateway's (<c>ControlPlane:Dispatch</c>).</summary>
    public string? DispatchPolicy { get; init; }

    /// <summary>Requests waiting an instance beyond which this model's dispatch refuses; null: the gateway's.</summary>
    public int? DispatchQueueLimit { get; init; }

    /// <summary>The model's named priority classes, by name (<c>ModelConfig.PriorityClasses</c>, or a learned model's card).</summary>
    public IReadOnlyDictionary<string, PriorityClass> PriorityClasses { get; init; } = new Dictionary<string, PriorityClass>();

    /// <summary>The class of requests that name none (<see cref="PriorityClass.IsDefault"/>), if the model has one.</summary>
    public PriorityClass? DefaultClass => PriorityClasses.Values.FirstOrDefault(c => c.IsDefault);

    /// <summary>The classes keyed by name, for <see cref="PriorityClasses"/>.</summary>
    public static IReadOnlyDictionary<string, PriorityClass> ByName(IEnumerable<PriorityClass> classes) =>
        classes.ToDictionary(c => c.Name, StringComparer.Ordinal);
}
