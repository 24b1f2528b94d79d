using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Gateway.Server.Push;

namespace Gateway.Server.Rpc;

/// <summary>
/// The built-in <c>$subscribe</c>/<c>$unsubscribe</c>: bound like plugin procedures (same input checks, rate limits,
/// in-flight limit and cancellation), gated by the plugins' <see cref="ITopicPolicy"/>s and the
/// <c>Gateway:Topics:ClientSubscribe</c> patterns.
/// </summary>
internal sealed class TopicProcedures(string[]? patterns, IReadOnlyList<ITopicPolicy> policies)
{
    public async ValueTask<TopicReply> Subscribe(TopicRequest input, RpcContext context)
    {
        string topic = input.Topic;
        TopicNames.ValidateTopic(topic);
        var access = TopicAccess.Default;
        foreach (var policy in policies)
        {
            access = await policy.CanSubscribeAsync(context, topic).ConfigureAwait(false);
            if (access != TopicAccess.Default) break;
        }
        bool allowed = access == TopicAccess.Allow || (access == TopicAccess.Default && TopicNames.MatchesAny(patterns, topic));
        if (!allowed) throw new RpcException(ErrorCode.PermissionDenied, $"topic '{topic}' is not open to clients");
        bool subscribed = await context.SubscribeAsync(topic).ConfigureAwait(false);
        return new TopicReply(topic, subscribed);
    }

    public async ValueTask<TopicReply> Unsubscribe(TopicRequest input, RpcContext context)
    {
        string topic = input.Topic;
        TopicNames.ValidateTopic(topic);
        await context.UnsubscribeAsync(topic).ConfigureAwait(false);
        return new TopicReply(topic, false);
    }

    public IEnumerable<Procedure> Bind(JsonSerializerOptions json)
    {
        foreach (var (name, method) in new[] { ("$subscribe", nameof(Subscribe)), ("$unsubscribe", nameof(Unsubscribe)) })
        {
            var info = typeof(TopicProcedures).GetMethod(method)!;
            var descriptor = ProcedureDescriptor.Analyze("(built-in)", typeof(TopicProcedures), "$", info, new RpcAttribute(method.ToLowerInvariant()), json, fullName: name);
            yield return descriptor.Bind(this, json);
        }
    }
}
