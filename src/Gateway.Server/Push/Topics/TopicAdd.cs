namespace Gateway.Server.Push;

internal enum TopicAdd { Added, Already, TooMany, Closed }
