using System.Diagnostics;
using Gateway.LoadTest.Net;
using Gateway.LoadTest.Reporting;

namespace Gateway.LoadTest.Core;

/// <summary>A point-in-time view for the live display.</summary>
public sealed record ProgressSnapshot(
    string Phase, TimeSpan PhaseElapsed, TimeSpan PhaseLength, int PhaseIndex, int PhaseCount,
    int ActiveUsers, long Steps, long Failures, double StepsPerSecond,
    IReadOnlyList<(string Name, string Value)> Extras);

/// <summary>
/// Runs a scenario through its load simulations: virtual users, the measured window, client CPU and GC,
/// the server's RSS and CPU; then collects the per-user recorders into one result.
/// </summary>
public sealed class ScenarioRunner
{
    private static readonly TimeSpan FailureBackoff = TimeSpan.FromMilliseconds(10);

    private readonly Scenario _scenario;
    private readonly RunContext _context;
    private VirtualUser[] _users = [];
    private volatile int _target;
    private volatile bool _stopping;
    private long _iterationsLeft = long.MaxValue;
    private readonly object _freeLock = new();
    private VirtualUser[] _free = [];
    private int _freeCount;
    private long _saturated;
    private int _saturatedErrorId;

    private volatile string _phase = "connecting";
    private long _phaseStart = Stopwatch.GetTimestamp();
    private TimeSpan _phaseLength;
    private int _phaseIndex;
    private long _serverRssPeak;

    public ScenarioRunner(Scenario scenario, RunContext context)
    {
        _scenario = scenario;
        _context = context;
    }

    public string Phase => _phase;

    public ProgressSnapshot Snapshot(ref (long Ts, long Steps) last)
    {
        long steps = 0, failures = 0;
        var users = Volatile.Read(ref _users);
        foreach (var u in users)
        {
            steps += Volatile.Read(ref u.TotalSteps);
            failures += Volatile.Read(ref u.TotalFailures);
        }
        failures += Volatile.Read(ref _saturated);
        long now = Stopwatch.GetTimestamp();
        double rate = last.Ts == 0 ? 0 : (steps - last.Steps) / Stopwatch.GetElapsedTime(last.Ts, now).TotalSeconds;
        last = (now, steps);
        int active = 0;
        if (_free.Length > 0) active = users.Length - Volatile.Read(ref _freeCount);
        else foreach (var u in users) if (Volatile.Read(ref u.Running) != 0) active++;
        if (_context.Settings.ServerPid is { } pid && ProcessProbe.ReadRssKb(pid) is { } rss && rss > Interlocked.Read(ref _serverRssPeak))
            Interlocked.Exchange(ref _serverRssPeak, rss);
        return new ProgressSnapshot(_phase, Stopwatch.GetElapsedTime(Interlocked.Read(ref _phaseStart)), _phaseLength,
            _phaseIndex, _scenario.Load.Count, active, steps, failures, rate, _scenario.ProgressExtras().ToList());
    }

    public async Task<ScenarioResult> RunAsync()
    {
        var settings = _context.Settings;
        var ct = _context.Cancellation;
        var result = new ScenarioResult
        {
            Scenario = _scenario.Name,
            Label = settings.Label,
            Protocol = settings.Target.Protocol.Name,
            Url = settings.Target.Url.ToString(),
            StartedAt = DateTimeOffset.Now,
            StepUnit = _scenario.StepUnit,
            Load = _scenario.Load.Select(l => l.Describe()).ToList(),
            ServerPid = settings.ServerPid,
        };
        _saturatedErrorId = ErrorTable.Intern("client saturated: no free virtual user for an injection");

        // The server's baseline, before any connection exists.
        await _scenario.BeforeBaselineAsync(_context);
        if (settings.ServerPid is { } serverPid)
        {
            result.ServerRssBeforeKb = ProcessProbe.ReadRssKb(serverPid);
            _serverRssPeak = result.ServerRssBeforeKb ?? 0;
        }

        _phase = "connecting";
        try
        {
            await _scenario.InitAsync(_context);
        }
        catch
        {
            await _scenario.CleanupAsync(_context);
            throw;
        }
        int latencyCapacity = _scenario.MaxCopies > 2000 ? 64 : 4096;
        // Filled before it is published: the live display reads _users every second from another thread, and on a
        // busy machine it used to catch the array half-filled (a NullReferenceException that ended the run).
        var users = new VirtualUser[_scenario.MaxCopies];
        for (int i = 0; i < users.Length; i++)
        {
            users[i] = new VirtualUser(i, latencyCapacity);
            _scenario.InitUser(users[i]);
        }
        Volatile.Write(ref _users, users);
        bool open = _scenario.Load.Any(l => l is Inject);
        if (open)
        {
            _free = new VirtualUser[_users.Length];
            foreach (var u in _users)
            {
                u.Wake = new AsyncSignal(runContinuationsAsynchronously: false);
                _free[_freeCount++] = u;
                u.Running = 1;
                u.Loop = OpenLoopAsync(u);
            }
        }

        using var ticker = new CancellationTokenSource();
        var tickTask = TickAsync(ticker.Token);

        WindowSnapshot? start = null, end = null;
        try
        {
            for (int p = 0; p < _scenario.Load.Count && !ct.IsCancellationRequested; p++)
            {
                var sim = _scenario.Load[p];
                if (sim.Record && start is null) start = OpenWindow();
                _phaseIndex = p + 1;
                _phase = sim.Describe();
                _phaseLength = sim.During;
                Interlocked.Exchange(ref _phaseStart, Stopwatch.GetTimestamp());
                switch (sim)
                {
                    case KeepConstant k:
                        SetTarget(k.Copies);
                        await DelayAsync(k.During, ct);
                        break;
                    case RampingConstant r:
                        await RampAsync(r, ct);
                        break;
                    case Inject i:
                        await InjectAsync(i, ct);
                        break;
                    case Iterations it:
                        Interlocked.Exchange(ref _iterationsLeft, it.Total);
                        SetTarget(it.Copies);
                        var loops = _users.Take(it.Copies).Select(u => u.Loop ?? Task.CompletedTask).ToArray();
                        await Task.WhenAny(Task.WhenAll(loops), Task.Delay(it.During, ct)).ContinueWith(_ => { });
                        Interlocked.Exchange(ref _iterationsLeft, 0);
                        break;
                }
            }
            start ??= OpenWindow();
            end = CloseWindow();

            _phase = "after load";
            _phaseLength = TimeSpan.Zero;
            Interlocked.Exchange(ref _phaseStart, Stopwatch.GetTimestamp());
            await _scenario.AfterLoadAsync(_context);
            if (settings.ServerPid is { } pid2)
            {
                result.ServerRssAfterKb = ProcessProbe.ReadRssKb(pid2);
                if (result.ServerRssAfterKb is { } after && after > _serverRssPeak) _serverRssPeak = after;
                result.ServerRssPeakKb = _serverRssPeak;
            }
        }
        finally
        {
            _phase = "draining";
            _stopping = true;
            Interlocked.Exchange(ref _iterationsLeft, 0);
            foreach (var u in _users) u.Wake?.Set();
            var all = _users.Select(u => u.Loop ?? Task.CompletedTask).ToArray();
            var drainLimit = settings.RequestTimeout + TimeSpan.FromSeconds(2);
            var allDone = Task.WhenAll(all);
            if (await Task.WhenAny(allDone, Task.Delay(drainLimit)) != allDone)
                result.Notes.Add($"{all.Count(t => !t.IsCompleted)} virtual users still had a step in flight {Durations.Format(drainLimit)} after the end (not counted)");
            ticker.Cancel();
            await tickTask.ContinueWith(_ => { });
            _phase = "closing";
            await _scenario.CleanupAsync(_context);
        }

        Collect(result, start!, end!);
        _scenario.Complete(result, _context);
        result.Parameters = _scenario.Parameters;
        if (ct.IsCancellationRequested) result.Notes.Add("interrupted: the run was cancelled before its planned end");
        return result;
    }

    // ------------------------------------------------------------------ closed model

    private void SetTarget(int copies)
    {
        _target = Math.Min(copies, _users.Length);
        for (int i = 0; i < _target; i++)
        {
            var u = _users[i];
            if (!u.Retired && Interlocked.CompareExchange(ref u.Running, 1, 0) == 0) u.Loop = ClosedLoopAsync(u);
        }
    }

    private async Task RampAsync(RampingConstant ramp, CancellationToken ct)
    {
        int from = _target;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < ramp.During && !ct.IsCancellationRequested)
        {
            double f = sw.Elapsed / ramp.During;
            SetTarget((int)Math.Round(from + (ramp.Copies - from) * f));
            await DelayAsync(TimeSpan.FromMilliseconds(50), ct);
        }
        SetTarget(ramp.Copies);
    }

    private async Task ClosedLoopAsync(VirtualUser user)
    {
        await Task.Yield(); // start every user off the controller's thread
        try
        {
            while (!_stopping && user.Index < _target)
            {
                if (Interlocked.Read(ref _iterationsLeft) != long.MaxValue && Interlocked.Decrement(ref _iterationsLeft) < 0) break;
                long t0 = Stopwatch.GetTimestamp();
                StepResult r;
                try
                {
                    r = await _scenario.StepAsync(user);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    r = StepResult.Fail(ex.GetType().Name + ": " + ex.Message);
                }
                Record(user, r, t0);
                if (r.StopUser) { user.Retired = true; break; }
                if (!r.IsOk && !_stopping) await Task.Delay(FailureBackoff);
            }
        }
        finally
        {
            Volatile.Write(ref user.Running, 0);
        }
    }

    private void Record(VirtualUser user, StepResult r, long t0)
    {
        long t1 = Stopwatch.GetTimestamp();
        user.TotalSteps++;
        if (!r.IsOk) user.TotalFailures++;
        if (!_context.Window.Contains(t1)) return;
        user.Requests++;
        if (r.IsOk)
        {
            user.Ok++;
            user.Latency.Record(t1 - t0);
        }
        else
        {
            user.Failed++;
            user.AddError(r.ErrorId);
        }
    }

    // ------------------------------------------------------------------ open model

    private async Task OpenLoopAsync(VirtualUser user)
    {
        try
        {
            while (true)
            {
                await user.Wake!.WaitAsync();
                if (_stopping) return;
                long t0 = Stopwatch.GetTimestamp();
                StepResult r;
                try
                {
                    r = await _scenario.StepAsync(user);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    r = StepResult.Fail(ex.GetType().Name + ": " + ex.Message);
                }
                Record(user, r, t0);
                if (r.StopUser) { user.Retired = true; return; }
                lock (_freeLock) _free[_freeCount++] = user;
            }
        }
        finally
        {
            Volatile.Write(ref user.Running, 0);
        }
    }

    private async Task InjectAsync(Inject inject, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        long injected = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(1));
        while (!ct.IsCancellationRequested)
        {
            var elapsed = sw.Elapsed;
            bool last = elapsed >= inject.During;
            if (last) elapsed = inject.During;
            long due = (long)(inject.Rate * (elapsed / inject.Interval));
            for (; injected < due; injected++)
            {
                VirtualUser? user = null;
                lock (_freeLock) if (_freeCount > 0) user = _free[--_freeCount];
                if (user is not null) user.Wake!.Set();
                else if (_context.Window.Contains(Stopwatch.GetTimestamp()))
                {
                    // The open model does not wait: a step that cannot start is a failure of the run.
                    Interlocked.Increment(ref _saturated);
                }
            }
            if (last) break;
            try { await timer.WaitForNextTickAsync(ct); } catch (OperationCanceledException) { break; }
        }
    }

    // ------------------------------------------------------------------ window

    private sealed record WindowSnapshot(long Timestamp, TimeSpan Cpu, TimeSpan CpuSystem, int Gen0, int Gen1, int Gen2, long Allocated, long SampleBytes,
        long BytesIn, long BytesOut, (TimeSpan User, TimeSpan System)? ServerCpu, (long Busy, long Total, int Cpus)? Machine)
    {
        public (long In, long Out, int Connections) Saved { get; init; }
    }

    private WindowSnapshot Snap()
    {
        var (bytesIn, bytesOut) = _scenario.Bytes();
        var self = Process.GetCurrentProcess();
        return new WindowSnapshot(Stopwatch.GetTimestamp(), self.TotalProcessorTime, self.PrivilegedProcessorTime,
            GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalAllocatedBytes(precise: true), LatencyRecorder.AllocatedBytes,
            bytesIn, bytesOut, _context.Settings.ServerPid is { } pid ? ProcessProbe.ReadCpuTimes(pid) : null, ProcessProbe.ReadMachineCpu())
        {
            Saved = _scenario.CompressionSaved(),
        };
    }

    private WindowSnapshot OpenWindow()
    {
        var s = Snap();
        _context.Window.Open(s.Timestamp);
        Interlocked.Exchange(ref _saturated, 0);
        return s;
    }

    private WindowSnapshot CloseWindow()
    {
        _context.Window.Close(Stopwatch.GetTimestamp());
        return Snap();
    }

    private void Collect(ScenarioResult result, WindowSnapshot start, WindowSnapshot end)
    {
        var wall = Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp);
        result.DurationSeconds = wall.TotalSeconds;
        long saturated = Interlocked.Read(ref _saturated);
        result.Requests = _users.Sum(u => u.Requests) + saturated;
        result.Ok = _users.Sum(u => u.Ok);
        result.Failed = _users.Sum(u => u.Failed) + saturated;
        result.Latency = LatencyRecorder.Summarize(_users.Select(u => u.Latency));
        result.BytesIn = end.BytesIn - start.BytesIn;
        result.BytesOut = end.BytesOut - start.BytesOut;
        if (_context.Settings.Target.Deflate)
        {
            result.BytesInUncompressed = result.BytesIn + end.Saved.In - start.Saved.In;
            result.BytesOutUncompressed = result.BytesOut + end.Saved.Out - start.Saved.Out;
            result.DeflateConnections = end.Saved.Connections;
        }
        result.ClientCpuPercent = wall > TimeSpan.Zero ? 100.0 * (end.Cpu - start.Cpu) / wall / Environment.ProcessorCount : 0;
        result.ClientCpuSystemPercent = wall > TimeSpan.Zero ? 100.0 * (end.CpuSystem - start.CpuSystem) / wall / Environment.ProcessorCount : 0;
        result.ClientGen0 = end.Gen0 - start.Gen0;
        result.ClientGen1 = end.Gen1 - start.Gen1;
        result.ClientGen2 = end.Gen2 - start.Gen2;
        result.ClientAllocatedBytes = end.Allocated - start.Allocated;
        result.ClientSampleBytes = end.SampleBytes - start.SampleBytes;
        if (start.ServerCpu is { } s0 && end.ServerCpu is { } s1 && wall > TimeSpan.Zero)
        {
            result.ServerCpuPercent = 100.0 * (s1.User + s1.System - s0.User - s0.System) / wall / Environment.ProcessorCount;
            result.ServerCpuSystemPercent = 100.0 * (s1.System - s0.System) / wall / Environment.ProcessorCount;
        }
        if (start.Machine is { } m0 && end.Machine is { } m1 && m1.Total > m0.Total)
        {
            // In cores: this process and the server are measured per process; the rest is everything else on the machine.
            double busy = (m1.Busy - m0.Busy) / (double)(m1.Total - m0.Total) * m1.Cpus;
            double self = result.ClientCpuPercent / 100 * Environment.ProcessorCount;
            double server = (result.ServerCpuPercent ?? 0) / 100 * Environment.ProcessorCount;
            result.MachineCpus = m1.Cpus;
            result.MachineBusyCores = busy;
            result.OtherBusyCores = Math.Max(0, busy - self - server);
        }
        var errors = new Dictionary<int, long>();
        foreach (var u in _users)
            if (u.Errors is { } e)
                foreach (var (id, n) in e) errors[id] = errors.GetValueOrDefault(id) + n;
        if (saturated > 0) errors[_saturatedErrorId] = saturated;
        foreach (var (id, n) in errors.OrderByDescending(kv => kv.Value)) result.Errors.Add((ErrorTable.Describe(id), n));
        long dropped = _users.Sum(u => u.Latency.Dropped);
        if (dropped > 0) result.Notes.Add($"latency sample budget used up: {dropped} samples counted in min/mean/max but not in the percentiles");
    }

    // ------------------------------------------------------------------ helpers

    private async Task TickAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(250, ct); } catch (OperationCanceledException) { return; }
            try
            {
                _scenario.OnTick(Stopwatch.GetTimestamp());
                if (!_stopping) SetTargetRefresh();
            }
            catch (Exception ex)
            {
                _context.Log("tick failed: " + ex.Message);
            }
        }
    }

    /// <summary>Restarts users that stopped during a ramp-down race while they are wanted again.</summary>
    private void SetTargetRefresh()
    {
        if (_free.Length > 0) return;
        int target = _target;
        for (int i = 0; i < target; i++)
        {
            var u = _users[i];
            if (!u.Retired && Interlocked.CompareExchange(ref u.Running, 1, 0) == 0) u.Loop = ClosedLoopAsync(u);
        }
    }

    private static async Task DelayAsync(TimeSpan t, CancellationToken ct)
    {
        try { await Task.Delay(t, ct); } catch (OperationCanceledException) { }
    }
}
