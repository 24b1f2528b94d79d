namespace Gateway.Server.Rpc;

internal enum ReturnShape { Value, TaskOfT, ValueTaskOfT, Task, ValueTask, Void, AsyncEnumerable }
