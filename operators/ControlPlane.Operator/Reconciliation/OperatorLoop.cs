namespace ControlPlane.Operator.Reconciliation;

/// <summary>
/// Reconciles every ModelService, then again after <see cref="Period"/>: level-based, so a missed event or
/// a restart changes nothing but how soon the next pass comes. A failure on one resource does not stop the others.
/// </summary>
public sealed class OperatorLoop(ModelServiceReconciler reconciler, string? @namespace, TextWriter log, PowerBudgetReconciler? powerBudgets = null)
{
    public TimeSpan Period { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>One pass over all ModelServices (and PowerBudgets); returns how many failed.</summary>
    public async Task<int> PassAsync(CancellationToken cancellationToken)
    {
        var failed = 0;
        if (powerBudgets is not null)
        {
            try
            {
                await powerBudgets.PassAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failed++;
                await log.WriteLineAsync($"power budgets failed, retrying next pass: {ex.Message}");
            }
        }
        foreach (var (ns, name) in await reconciler.ListAsync(@namespace, cancellationToken))
        {
            try
            {
                await reconciler.ReconcileAsync(ns, name, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failed++;
                await log.WriteLineAsync($"reconcile {ns}/{name} failed, retrying next pass: {ex.Message}");
            }
        }
        return failed;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Period);
        do
        {
            try
            {
                await PassAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                await log.WriteLineAsync($"listing ModelServices failed, retrying next pass: {ex.Message}");
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }
}
