using System.Text;
using ControlPlane.Models.Folders;
using ControlPlane.Tokenization;

namespace ControlPlane.Models.Chat;

/// <summary>Renders chat messages into a prompt in the model's own format, ending where the assistant speaks.</summary>
public static class ChatTemplates
{
    public const string Auto = "auto";
    public const string ChatMl = "chatml";
    public const string Llama3 = "llama3";
    public static readonly string[] Known = [Auto, ChatMl, Llama3];

    /// <summary>
    /// The form a model folder's <c>tokenizer_config.json</c> <c>chat_template</c> is written in: Llama-3 (header
    /// tokens) or ChatML (<c>&lt;|im_start|&gt;</c>); ChatML when the folder has no template. A template of
    /// another form is an error naming the setting that overrides it.
    /// </summary>
    public static string Detect(TokenizerConfig config)
    {
        var template = config.ChatTemplate;
        if (template is null)
            return ChatMl;
        if (template.Contains("<|start_header_id|>", StringComparison.Ordinal))
            return Llama3;
        if (template.Contains("<|im_start|>", StringComparison.Ordinal))
            return ChatMl;
        throw new InvalidDataException($"{config.Path}: the chat_template is neither the Llama-3 nor the ChatML form; set Models:N:ChatTemplate to '{ChatMl}' or '{Llama3}'");
    }

    public static string Detect(string folder) => Detect(TokenizerConfig.Read(folder));

    /// <summary>The prompt as text, control tokens written out (what the model's own template renders).</summary>
    public static string Render(string template, IReadOnlyList<ChatMessage> messages)
    {
        var prompt = new StringBuilder();
        foreach (var piece in Pieces(template, messages))
            prompt.Append(piece.Text);
        return prompt.ToString();
    }

    /// <summary>
    /// The prompt's token ids: the template's control tokens as the special tokens they are, and everything between
    /// them (roles, contents) encoded as plain text, so that a message's content can never forge template structure.
    /// Between two control tokens the text is what the model's template renders there, encoded as one piece, as
    /// Hugging Face's tokenizer does after splitting on special tokens; a normal chat gets the ids the template gives.
    /// </summary>
    public static IReadOnlyList<int> Encode(string template, IReadOnlyList<ChatMessage> messages, ITokenizer tokenizer)
    {
        var ids = new List<int>();
        var text = new StringBuilder();
        foreach (var piece in Pieces(template, messages))
        {
            if (!piece.Control)
            {
                text.Append(piece.Text);
                continue;
            }
            if (text.Length > 0)
                ids.AddRange(tokenizer.EncodePlain(text.ToString()));
            text.Clear();
            // A vocabulary without this control token (a simulated model) encodes its text, as the model would see it.
            if (tokenizer.TryGetSpecialTokenId(piece.Text, out var id))
                ids.Add(id);
            else
                ids.AddRange(tokenizer.Encode(piece.Text));
        }
        if (text.Length > 0)
            ids.AddRange(tokenizer.EncodePlain(text.ToString()));
        return ids;
    }

    private readonly record struct Piece(string Text, bool Control);

    private static List<Piece> Pieces(string template, IReadOnlyList<ChatMessage> messages)
    {
        var pieces = new List<Piece>(messages.Count * 5 + 4);
        void Control(string text) => pieces.Add(new Piece(text, true));
        void Text(string text) => pieces.Add(new Piece(text, false));
        switch (template)
        {
            case ChatMl:
                foreach (var m in messages)
                {
                    Control("<|im_start|>");
                    Text(m.Role + "\n" + m.Content);
                    Control("<|im_end|>");
                    Text("\n");
                }
                Control("<|im_start|>");
                Text("assistant\n");
                break;
            case Llama3:
                Control("<|begin_of_text|>");
                foreach (var m in messages)
                {
                    Control("<|start_header_id|>");
                    Text(m.Role);
                    Control("<|end_header_id|>");
                    Text("\n\n" + m.Content.Trim());
                    Control("<|eot_id|>");
                }
                Control("<|start_header_id|>");
                Text("assistant");
                Control("<|end_header_id|>");
                Text("\n\n");
                break;
            default:
                throw new ArgumentException($"unknown chat template '{template}'", nameof(template));
        }
        return pieces;
    }
}
