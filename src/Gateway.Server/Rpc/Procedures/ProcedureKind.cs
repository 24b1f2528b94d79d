namespace Gateway.Server.Rpc;

public enum ProcedureKind { Request, Notification, Subscription }
