using Gateway.Client;
using Greeter.Contracts;

// Start the gateway first (make run), then: dotnet run --project samples/Greeter.Client [ws://localhost:8080/ws]
var uri = new Uri(args.Length > 0 ? args[0] : "ws://localhost:8080/ws");
await using var client = new GatewayClient(uri);
client.StateChanged += (_, e) => Console.WriteLine($"[{e.Current}]");
await client.ConnectAsync();

// The same interface the plugin implements (src/Gateway.Samples/GreeterService.cs).
var greeter = client.CreateProxy<IGreeter>();
var reply = await greeter.HelloAsync(new HelloRequest("Ada"));
Console.WriteLine(reply.Greeting);

await foreach (var n in greeter.CountdownAsync(new CountdownRequest(From: 3, DelayMs: 200)))
    Console.WriteLine($"countdown {n}");

try
{
    await greeter.HelloAsync(new HelloRequest(""));
}
catch (RpcException ex)
{
    Console.WriteLine($"{ex.Code} ({ex.Status}): {ex.Message}");
}

// Untyped calls, a topic and an event work on the same client.
await using var ticker = await client.SubscribeAsync<System.Text.Json.JsonElement>("ticker", e => Console.WriteLine($"{e.Event} {e.Data}"));
Console.WriteLine(await client.CallAsync<string>("$ping"));
