namespace ControlPlane.Server.Gateway;

/// <summary>Carries an <see cref="ApiError"/> out of request handling to the one place that writes it.</summary>
public sealed class ApiErrorException : Exception
{
    public ApiErrorException() : this(ApiError.Server("unknown error")) { }

    public ApiErrorException(string message) : this(ApiError.Server(message)) { }

    public ApiErrorException(string message, Exception inner) : base(message, inner) => Error = ApiError.Server(message);

    public ApiErrorException(ApiError error) : base(error.Message) => Error = error;

    public ApiError Error { get; }
}
