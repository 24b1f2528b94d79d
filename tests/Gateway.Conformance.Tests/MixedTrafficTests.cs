using System.Text;
using Gateway.Tests.Shared;
using static Gateway.Conformance.Tests.Wire;

namespace Gateway.Conformance.Tests;

/// <summary>
/// Seeded, reproducible mixes of everything that is valid: messages of random sizes cut into random fragments
/// (text cut anywhere, even inside a character), pings and unsolicited pongs between fragments, and the whole
/// byte stream sent in random-sized TCP writes. Every case asserts the exact sequence of frames that must come back.
/// </summary>
public class MixedTrafficTests
{
    private static readonly string[] Chars = ["a", "Z", " ", "é", "ß", "€", "日", "\uFFFF", "😀", "\U0010FFFF"];

    private static byte[] RandomText(Random rng, int approxBytes)
    {
        var sb = new StringBuilder();
        while (Encoding.UTF8.GetByteCount(sb.ToString()) < approxBytes) sb.Append(Chars[rng.Next(Chars.Length)]);
        return Utf8(sb.ToString());
    }

    public static TheoryData<int> Seeds()
    {
        var d = new TheoryData<int>();
        for (int seed = 1; seed <= 16; seed++) d.Add(seed);
        return d;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Random_valid_traffic_gets_exactly_the_expected_frames(int seed)
    {
        var rng = new Random(seed);
        var wire = new List<byte[]>();
        var expected = new List<(byte Opcode, byte[] Payload)>();
        int messages = rng.Next(1, 8);
        for (int m = 0; m < messages; m++)
        {
            byte op = rng.Next(2) == 0 ? Text : Binary;
            int size = rng.Next(4) switch { 0 => rng.Next(0, 126), 1 => rng.Next(126, 4096), 2 => rng.Next(4096, 20000), _ => rng.Next(0, 10) };
            var payload = op == Text ? RandomText(rng, size) : Payload(Binary, size, seed * 100 + m);
            int fragments = rng.Next(1, 7);
            var cuts = Enumerable.Range(0, fragments - 1).Select(_ => rng.Next(payload.Length + 1)).Append(0).Append(payload.Length).Order().ToList();
            for (int f = 0; f < fragments; f++)
            {
                bool last = f == fragments - 1;
                int lengthBytes = rng.Next(5) == 0 ? 8 : 0; // sometimes a non-minimal 64-bit length
                wire.Add(RawClient.Frame(f == 0 ? op : Continuation, payload.AsSpan(cuts[f], cuts[f + 1] - cuts[f]), fin: last, forceLengthBytes: lengthBytes, maskKey: (uint)rng.Next()));
                // The echo is due when the final fragment has been read, before anything written after it.
                if (last) expected.Add((op, payload));
                if (!last || rng.Next(3) == 0)
                {
                    switch (rng.Next(3))
                    {
                        case 0:
                            var ping = Payload(Binary, rng.Next(0, 126), seed * 1000 + m * 10 + f);
                            wire.Add(RawClient.Frame(Ping, ping));
                            expected.Add((Pong, ping));
                            break;
                        case 1:
                            wire.Add(RawClient.Frame(Pong, Payload(Binary, rng.Next(0, 126))));
                            break;
                    }
                }
            }
        }

        await using var gw = await TestGateway.StartAsync();
        await using var c = await RawClient.OpenAsync(gw.EndPoint);
        var stream = Concat(wire.ToArray());
        for (int pos = 0; pos < stream.Length;)
        {
            int n = Math.Min(stream.Length - pos, rng.Next(4) == 0 ? rng.Next(1, 8) : rng.Next(1, 6000));
            await c.SendAsync(stream.AsMemory(pos, n));
            pos += n;
        }
        foreach (var (op, payload) in expected) await ExpectFrameAsync(c, op, payload);
        await c.SendAsync(RawClient.CloseFrame(1000));
        await ExpectCloseAsync(c, 1000);
    }
}
