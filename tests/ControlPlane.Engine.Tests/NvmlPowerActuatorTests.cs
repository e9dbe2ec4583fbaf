using ControlPlane.Engine.Cuda;

namespace ControlPlane.Engine.Tests;

public class NvmlPowerActuatorTests
{
    [Fact]
    public void Open_WhereTheDriverIsAbsent_SaysSoByName()
    {
        // This machine has no NVIDIA driver (a GPU node has it; reading a board there was not run yet).
        if (File.Exists("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"))
            return;
        var ex = Assert.Throws<NvmlException>(() => NvmlPowerActuator.Open(0));
        Assert.Contains("libnvidia-ml.so.1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("PowerActuator", ex.Message, StringComparison.Ordinal);
    }
}
