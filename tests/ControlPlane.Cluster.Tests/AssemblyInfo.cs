// Each test runs a whole cluster of processes; two at once on a small machine would measure each other.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
