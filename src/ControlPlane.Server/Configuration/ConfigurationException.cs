namespace ControlPlane.Server.Configuration;

/// <summary>The configuration is wrong; <see cref="Errors"/> name each bad key and what it should be.</summary>
public sealed class ConfigurationException : Exception
{
    public ConfigurationException() : this([]) { }

    public ConfigurationException(string message) : this([message]) { }

    public ConfigurationException(string message, Exception inner) : base(message, inner) => Errors = [message];

    public ConfigurationException(IReadOnlyList<string> errors)
        : base("invalid configuration:" + string.Concat(errors.Select(e => Environment.NewLine + "  - " + e))) => Errors = errors;

    public IReadOnlyList<string> Errors { get; }
}
