using System.Globalization;
using ControlPlane.Server.Configuration;

namespace ControlPlane.Server.Gateway.Tenants;

/// <summary>
/// One tenant's limits on this gateway: requests and tokens per minute (token buckets that refill continuously, as
/// OpenAI's limits do) and requests at once. A request takes one request, its prompt plus <c>max_tokens</c> in
/// tokens and a concurrency slot; at its end it gives the slot back and the completion tokens it did not use.
/// </summary>
public sealed class TenantLimiter(TenantConfig config, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Bucket _requests = new(config.RequestsPerMinute, time);
    private readonly Bucket _tokens = new(config.TokensPerMinute, time);
    private int _running;

    public int Running
    {
        get
        {
            lock (_lock)
                return _running;
        }
    }

    /// <summary>Takes what a request of <paramref name="tokens"/> needs, or says why not and when to retry.</summary>
    public RateDecision TryAcquire(int tokens)
    {
        lock (_lock)
        {
            if (config.MaxConcurrentRequests > 0 && _running >= config.MaxConcurrentRequests)
                return Refuse($"Tenant '{config.Name}' has {_running} requests in flight, its limit; retry when one ends.", "concurrency", TimeSpan.FromSeconds(1));
            if (config.TokensPerMinute > 0 && tokens > config.TokensPerMinute)
            {
                return new RateDecision(false, Headers(), TimeSpan.Zero,
                    $"The request needs {tokens} tokens (prompt and max_tokens), more than tenant '{config.Name}''s limit of {config.TokensPerMinute} per minute.", "tokens", TooLarge: true);
            }
            if (_requests.Wait(1) is { } requestWait && requestWait > TimeSpan.Zero)
                return Refuse($"Rate limit reached for requests: tenant '{config.Name}' may send {config.RequestsPerMinute} per minute.", "requests", requestWait);
            if (_tokens.Wait(tokens) is { } tokenWait && tokenWait > TimeSpan.Zero)
                return Refuse($"Rate limit reached for tokens: tenant '{config.Name}' may use {config.TokensPerMinute} per minute; this request needs {tokens}.", "tokens", tokenWait);
            _requests.Take(1);
            _tokens.Take(tokens);
            _running++;
            return new RateDecision(true, Headers(), TimeSpan.Zero, "", "");
        }
    }

    /// <summary>A request ends: its slot back, and the tokens it reserved but did not use.</summary>
    public void Release(int unusedTokens)
    {
        lock (_lock)
        {
            _running = Math.Max(0, _running - 1);
            _tokens.Give(Math.Max(0, unusedTokens));
        }
    }

    private RateDecision Refuse(string message, string limit, TimeSpan wait) => new(false, Headers(), wait, message, limit);

    /// <summary>The <c>x-ratelimit-*</c> headers OpenAI sends: limit, remaining and time to full for requests and tokens.</summary>
    private List<KeyValuePair<string, string>> Headers()
    {
        var headers = new List<KeyValuePair<string, string>>(6);
        if (config.RequestsPerMinute > 0)
            _requests.Describe("requests", headers);
        if (config.TokensPerMinute > 0)
            _tokens.Describe("tokens", headers);
        return headers;
    }

    /// <summary>A bucket of <paramref name="perMinute"/> that refills continuously; 0 is no limit.</summary>
    private sealed class Bucket(int perMinute, TimeProvider time)
    {
        private double _level = perMinute;
        private long _at = time.GetTimestamp();

        private void Refill()
        {
            var now = time.GetTimestamp();
            _level = Math.Min(perMinute, _level + time.GetElapsedTime(_at, now).TotalMinutes * perMinute);
            _at = now;
        }

        /// <summary>How long until <paramref name="amount"/> is in the bucket (zero: now).</summary>
        public TimeSpan Wait(int amount)
        {
            if (perMinute <= 0)
                return TimeSpan.Zero;
            Refill();
            return _level >= amount ? TimeSpan.Zero : TimeSpan.FromMinutes((amount - _level) / perMinute);
        }

        public void Take(int amount)
        {
            if (perMinute > 0)
                _level -= amount;
        }

        public void Give(int amount)
        {
            if (perMinute <= 0)
                return;
            Refill();
            _level = Math.Min(perMinute, _level + amount);
        }

        public void Describe(string what, List<KeyValuePair<string, string>> headers)
        {
            Refill();
            headers.Add(new($"x-ratelimit-limit-{what}", perMinute.ToString(CultureInfo.InvariantCulture)));
            headers.Add(new($"x-ratelimit-remaining-{what}", ((long)Math.Max(0, Math.Floor(_level))).ToString(CultureInfo.InvariantCulture)));
            headers.Add(new($"x-ratelimit-reset-{what}", Duration(TimeSpan.FromMinutes((perMinute - _level) / perMinute))));
        }
    }

    /// <summary>OpenAI's reset format: "1s", "6m0s", "120ms".</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.FromSeconds(1))
            return string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, (int)Math.Ceiling(span.TotalMilliseconds))}ms");
        var seconds = (int)Math.Ceiling(span.TotalSeconds);
        return seconds < 60
            ? string.Create(CultureInfo.InvariantCulture, $"{seconds}s")
            : string.Create(CultureInfo.InvariantCulture, $"{seconds / 60}m{seconds % 60}s");
    }
}

/// <summary>
/// A limiter's answer: whether the request may go, the rate-limit headers, and when refused the wait, the reason and
/// which limit (<c>requests</c>, <c>tokens</c>, <c>concurrency</c>). <see cref="TooLarge"/>: no wait would do.
/// </summary>
public sealed record RateDecision(bool Allowed, IReadOnlyList<KeyValuePair<string, string>> Headers, TimeSpan RetryAfter, string Message, string Limit, bool TooLarge = false);
