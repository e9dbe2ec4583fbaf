namespace ControlPlane.Engine;

public sealed partial class TorchStepRunner
{
    /// <summary>Block data in <see cref="KvLayout"/>: layer-major, keys then values, each block's slots in order.</summary>
    public byte[] ReadBlocks(IReadOnlyList<int> blocks) => _copier.Read(blocks);

    public void WriteBlocks(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data) => _copier.Write(blocks, data);
}
