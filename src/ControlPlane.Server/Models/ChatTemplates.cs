using System.Text;

namespace ControlPlane.Server.Models;

/// <summary>Renders chat messages into a prompt in the model's own format, ending where the assistant speaks.</summary>
public static class ChatTemplates
{
    public const string ChatMl = "chatml";
    public const string Llama3 = "llama3";
    public static readonly string[] Known = [ChatMl, Llama3];

    public static string Render(string template, IReadOnlyList<ChatMessage> messages)
    {
        var prompt = new StringBuilder();
        switch (template)
        {
            case ChatMl:
                foreach (var m in messages)
                    prompt.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
                prompt.Append("<|im_start|>assistant\n");
                break;
            case Llama3:
                prompt.Append("<|begin_of_text|>");
                foreach (var m in messages)
                    prompt.Append("<|start_header_id|>").Append(m.Role).Append("<|end_header_id|>\n\n").Append(m.Content.Trim()).Append("<|eot_id|>");
                prompt.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
                break;
            default:
                throw new ArgumentException($"unknown chat template '{template}'", nameof(template));
        }
        return prompt.ToString();
    }
}
