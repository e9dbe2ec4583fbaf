using ControlPlane.Models.Chat;
using ControlPlane.Models.Configuration;
using ControlPlane.Tokenization;

namespace ControlPlane.Models.Folders;

/// <summary>
/// A Hugging Face model folder's small files, each read once: <c>config.json</c> as a <see cref="LlamaConfig"/>
/// and <c>tokenizer_config.json</c>; the tokenizer and the chat-template form are made from them. The gateway
/// needs only this; the engine loads the weights beside it.
/// </summary>
public sealed record ModelFolderInfo(string Folder, LlamaConfig Config, TokenizerConfig TokenizerConfig)
{
    public static ModelFolderInfo Read(string folder)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"model folder '{folder}' does not exist");
        var path = Path.Combine(folder, "config.json");
        if (!File.Exists(path))
            throw new FileNotFoundException($"model folder '{folder}' has no config.json", path);
        return new ModelFolderInfo(folder, LlamaConfig.Parse(path), TokenizerConfig.Read(folder));
    }

    /// <summary>The folder's <c>tokenizer.json</c>, ending sequences at config.json's ids (else tokenizer_config.json's token).</summary>
    public HuggingFaceTokenizer LoadTokenizer() => HuggingFaceTokenizer.Load(Folder, Config.EosTokenIds, TokenizerConfig.EndOfSequenceToken);

    /// <summary>The chat template form the folder declares (see <see cref="ChatTemplates.Detect(TokenizerConfig)"/>).</summary>
    public string ChatTemplate => ChatTemplates.Detect(TokenizerConfig);
}
