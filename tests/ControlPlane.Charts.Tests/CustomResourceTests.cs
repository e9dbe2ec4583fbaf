using System.Text.Json;
using k8s;
using k8s.Models;
using NJsonSchema;
using YamlDotNet.Serialization;

namespace ControlPlane.Charts.Tests;

public class CustomResourceTests
{
    private static readonly IDeserializer Yaml = new DeserializerBuilder().WithAttemptingUnquotedStringTypeDeserialization().Build();

    private static async Task<JsonSchema> SchemaAsync(string crdFile)
    {
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(await File.ReadAllTextAsync(Path.Combine(Repository.Chart, "crds", crdFile)), strict: true);
        return await JsonSchema.FromJsonAsync(KubernetesJson.Serialize(crd.Spec.Versions.Single().Schema.OpenAPIV3Schema));
    }

    private static string Json(string yaml) => JsonSerializer.Serialize(Yaml.Deserialize<object>(yaml));

    /// <summary>Every error, nested ones (inside array items) included.</summary>
    private static List<NJsonSchema.Validation.ValidationError> Validate(JsonSchema schema, string yaml) => [.. Flatten(schema.Validate(Json(yaml)))];

    private static IEnumerable<NJsonSchema.Validation.ValidationError> Flatten(IEnumerable<NJsonSchema.Validation.ValidationError> errors) =>
        errors.SelectMany(e => e is NJsonSchema.Validation.ChildSchemaValidationError child
            ? new[] { e }.Concat(Flatten(child.Errors.Values.SelectMany(v => v)))
            : [e]);

    [Theory]
    [InlineData("modelservice.yaml", "modelservices.inference.controlplane.dev.yaml")]
    [InlineData("modelservice-disaggregated.yaml", "modelservices.inference.controlplane.dev.yaml")]
    [InlineData("powerbudget.yaml", "powerbudgets.inference.controlplane.dev.yaml")]
    public async Task Example_PassesItsCrdSchema(string example, string crd)
    {
        var errors = Validate(await SchemaAsync(crd), await File.ReadAllTextAsync(Path.Combine(Repository.Examples, example)));
        Assert.True(errors.Count == 0, string.Join("; ", errors.Select(e => $"{e.Path}: {e.Kind}")));
    }

    [Theory]
    [InlineData("spec: {engine: {image: x}}", "model", "PropertyRequired")]
    [InlineData("spec: {model: {source: m}, engine: {image: x}, dispatch: {policy: fastest}}", "policy", "NotInEnumeration")]
    [InlineData("spec: {model: {source: m}, engine: {image: x, gpusPerInstance: 9}}", "gpusPerInstance", "NumberTooBig")]
    [InlineData("spec: {model: {source: m}, engine: {image: x}, pools: {decode: {replicas: -1}}}", "replicas", "NumberTooSmall")]
    [InlineData("spec: {model: {source: m}, engine: {image: x}, priorityClasses: [{name: a, serviceClass: gold}]}", "serviceClass", "NotInEnumeration")]
    public async Task InvalidModelService_IsRejectedNamingTheField(string spec, string field, string kind)
    {
        var errors = Validate(await SchemaAsync("modelservices.inference.controlplane.dev.yaml"), "apiVersion: inference.controlplane.dev/v1alpha1\nkind: ModelService\nmetadata: {name: x}\n" + spec);
        Assert.Contains(errors, e => (e.Path ?? "").Contains(field, StringComparison.Ordinal) || e.Property == field);
        Assert.Contains(errors, e => e.Kind.ToString() == kind);
    }

    [Fact]
    public async Task InvalidPowerBudget_ZeroWattsAndNoLabels_AreBothReported()
    {
        var errors = Validate(await SchemaAsync("powerbudgets.inference.controlplane.dev.yaml"),
            "apiVersion: inference.controlplane.dev/v1alpha1\nkind: PowerBudget\nmetadata: {name: x}\nspec: {nodeSelector: {matchLabels: {}}, budgetWatts: 0}");
        Assert.Contains(errors, e => e.Property == "budgetWatts" || (e.Path ?? "").Contains("budgetWatts", StringComparison.Ordinal));
        Assert.Contains(errors, e => (e.Path ?? "").Contains("matchLabels", StringComparison.Ordinal) || e.Property == "matchLabels");
    }

    [Fact]
    public void StrictDeserialize_UnknownField_IsAnError()
    {
        // The chart test relies on strict deserialization refusing fields the typed model lacks.
        Assert.ThrowsAny<Exception>(() => KubernetesYaml.Deserialize<V1Service>("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {bogus: 1}\n", strict: true));
    }
}
