namespace Gateway;

/// <summary>What kind of call an <see cref="IRpcFilter"/> wraps.</summary>
public enum RpcCallKind
{
    /// <summary>A call with an id, answered with one <c>result</c> or <c>error</c> (also a <c>[Notification]</c> procedure called with an id).</summary>
    Request,
    /// <summary>A call without an id: nothing is ever sent back, not even an error.</summary>
    Notification,
    /// <summary>A <c>[Subscription]</c>: <c>next</c> runs the whole stream and completes when it has ended.</summary>
    Subscription,
}

/// <summary>The next step of the filter pipeline: the next filter, or the handler itself after the last one.</summary>
/// <param name="context">The call, passed on unchanged.</param>
public delegate ValueTask RpcFilterDelegate(RpcFilterContext context);

/// <summary>One call as a filter sees it. Valid until the filter's <see cref="IRpcFilter.InvokeAsync"/> completes.</summary>
public abstract class RpcFilterContext
{
    /// <summary>The call's context, as its handler gets it (path, user, connection id, items, token…).</summary>
    public abstract RpcContext Context { get; }

    /// <summary>The procedure's name, e.g. <c>echo/echo</c>.</summary>
    public string Path => Context.Path;

    /// <summary>Whether the call is a request, a notification or a subscription.</summary>
    public abstract RpcCallKind Kind { get; }

    /// <summary>The call's input as read (null when the procedure takes none or none was sent); a value type is boxed each time this is read.</summary>
    public abstract object? Input { get; }
}

/// <summary>
/// Wraps every call to a plugin procedure and the built-in <c>$subscribe</c>/<c>$unsubscribe</c> (requests, notifications and
/// subscriptions; not <c>$ping</c> and <c>$describe</c>), like SignalR hub filters or ASP.NET Core endpoint filters:
/// logging, auditing, validation, timing. Register implementations in <see cref="IGatewayPlugin.ConfigureServices"/>
/// (<c>services.AddSingleton&lt;IRpcFilter, MyFilter&gt;()</c>).
/// </summary>
/// <remarks>
/// Order: registration order, the first registered outermost (it runs first and sees the others' outcome last).
/// Filters run after authorization and after the input is read. A filter short-circuits by throwing
/// <see cref="RpcException"/> (its error is the reply; a notification drops it, logged); any other exception answers
/// <c>INTERNAL</c> like a handler's. A filter ends a call only by awaiting <c>next</c> or by throwing: one that returns
/// without either (or swallows the handler's exception) leaves the call without a result, which answers <c>INTERNAL</c>
/// and is logged. The handler's exceptions reach the filters through <c>next</c>. With no filter registered, calls
/// take the same allocation-free path as before: filters cost nothing unless used.
/// </remarks>
public interface IRpcFilter
{
    /// <summary>Runs around one call; await <paramref name="next"/> to run the rest of the pipeline and the handler.</summary>
    ValueTask InvokeAsync(RpcFilterContext context, RpcFilterDelegate next);
}
