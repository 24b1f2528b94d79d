using System.Security.Claims;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Gateway.Samples;

public sealed class RoomInput
{
    /// <summary>The room's name: 1 to 64 letters, digits, '-', '_' or '.'.</summary>
    public string? Room { get; set; }
}

public sealed class SendInput
{
    public string? Room { get; set; }
    public string? Text { get; set; }
}

public sealed class LoginInput
{
    /// <summary>The user id an anonymous connection acts for (anyone may claim any name; an authenticated connection is its token's user).</summary>
    public string? User { get; set; }
}

public sealed class DirectInput
{
    public string? User { get; set; }
    public string? Text { get; set; }
}

public sealed record JoinResult(string Room, string Topic);
public sealed record ChatMessage(string Room, string From, string Text, DateTimeOffset SentAt);
public sealed record DirectMessage(string From, string Text, DateTimeOffset SentAt);
public sealed record SendResult(string Room, string Topic);
public sealed record DirectResult(string User, bool Delivered);
public sealed record WhoAmI(string ConnectionId, string? UserId, string NodeId, string[] Roles);

/// <summary>
/// A chat over topics: join a room (the connection subscribes to topic <c>room:{name}</c>), send to it (an event
/// <c>chat.message</c> to every member, on every node), claim a user name and get direct messages on every connection of it.
/// </summary>
[RpcService("chat")]
public sealed class ChatService(ILogger<ChatService> log)
{
    private const int MaxText = 4000;

    /// <summary>Subscribes the caller to <c>room:{room}</c>; from then on it receives <c>chat.message</c> events of that room.</summary>
    [Rpc("join")]
    public async Task<JoinResult> Join(RoomInput input, RpcContext context)
    {
        string room = CheckRoom(input.Room);
        string topic = "room:" + room;
        await context.SubscribeAsync(topic);
        log.LogDebug("[{ConnectionId}] joined {Topic}", context.ConnectionId, topic);
        return new JoinResult(room, topic);
    }

    /// <summary>Unsubscribes the caller from <c>room:{room}</c>.</summary>
    [Rpc("leave")]
    public async Task<JoinResult> Leave(RoomInput input, RpcContext context)
    {
        string room = CheckRoom(input.Room);
        await context.UnsubscribeAsync("room:" + room);
        return new JoinResult(room, "room:" + room);
    }

    /// <summary>Publishes <c>chat.message</c> {room, from, text, sentAt} to <c>room:{room}</c>: every member on every node gets it.</summary>
    [Rpc("send")]
    public async Task<SendResult> Send(SendInput input, RpcContext context)
    {
        string room = CheckRoom(input.Room);
        if (string.IsNullOrEmpty(input.Text) || input.Text.Length > MaxText)
            throw new RpcException(ErrorCode.InvalidArgument, $"text is 1 to {MaxText} characters");
        string topic = "room:" + room;
        await context.Topics.PublishAsync(topic, "chat.message",
            new ChatMessage(room, Sender(context), input.Text, DateTimeOffset.UtcNow), context.CancellationToken);
        return new SendResult(room, topic);
    }

    /// <summary>The caller's connection id (valid on every node), user id, node and roles (from its token; none when anonymous).</summary>
    [Rpc("whoami")]
    public WhoAmI Who(RpcContext context) => new(context.ConnectionId, context.UserId, context.Connections.NodeId, Roles(context.User));

    /// <summary>
    /// Lets an anonymous connection claim a user id; completes when every node knows. An authenticated connection already
    /// is its token's user and cannot claim another: FAILED_PRECONDITION.
    /// </summary>
    [Rpc("login")]
    public async Task<WhoAmI> Login(LoginInput input, RpcContext context)
    {
        if (context.User.Identity?.IsAuthenticated == true)
            throw new RpcException(ErrorCode.FailedPrecondition, $"this connection is authenticated as '{context.UserId ?? context.User.Identity.Name}'; chat/login is only for anonymous connections");
        if (string.IsNullOrWhiteSpace(input.User) || input.User.Length > 64)
            throw new RpcException(ErrorCode.InvalidArgument, "user is 1 to 64 characters");
        await context.SetUserIdAsync(input.User);
        return Who(context);
    }

    /// <summary>Sends <c>chat.direct</c> {from, text, sentAt} to every connection of a user, on every node.</summary>
    [Rpc("dm")]
    public async Task<DirectResult> Direct(DirectInput input, RpcContext context)
    {
        if (string.IsNullOrWhiteSpace(input.User)) throw new RpcException(ErrorCode.InvalidArgument, "user is required");
        if (string.IsNullOrEmpty(input.Text) || input.Text.Length > MaxText)
            throw new RpcException(ErrorCode.InvalidArgument, $"text is 1 to {MaxText} characters");
        bool delivered = await context.Connections.SendEventToUserAsync(input.User, "chat.direct",
            new DirectMessage(Sender(context), input.Text, DateTimeOffset.UtcNow), context.CancellationToken);
        return new DirectResult(input.User, delivered);
    }

    // The authenticated user when there is one (its user id, else its name claim), else the claimed user id, else the connection.
    private static string Sender(RpcContext context) =>
        context.UserId ?? (context.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name } ? name : context.ConnectionId);

    private static string[] Roles(ClaimsPrincipal user) =>
        user.Identities.Where(i => i.IsAuthenticated).SelectMany(i => i.FindAll(i.RoleClaimType)).Select(c => c.Value).Distinct().ToArray();

    private static string CheckRoom(string? room)
    {
        if (string.IsNullOrEmpty(room) || room.Length > 64 || !room.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw new RpcException(ErrorCode.InvalidArgument, "room is 1 to 64 letters, digits, '-', '_' or '.'");
        return room;
    }
}
