using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Token;

/// <summary>
/// Development tokens for a gateway configured with Gateway:Auth:Jwt:Secret: signed HS256 with that secret, carrying its
/// Issuer and Audience when set, the user in its UserIdClaim and the roles in its RoleClaim (an array when several).
/// </summary>
public static class TokenTool
{
    public static int Main(string[] args)
    {
        string config = "config/appsettings.Auth.example.json", user = "ada";
        string[] roles = [];
        var lifetime = TimeSpan.FromHours(1);
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : "";
            switch (args[i])
            {
                case "--config": config = value; i++; break;
                case "--user": user = value; i++; break;
                case "--roles": roles = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); i++; break;
                case "--minutes":
                    if (!int.TryParse(value, out int minutes) || minutes < 1) return Usage("--minutes must be a whole number of minutes, at least 1");
                    lifetime = TimeSpan.FromMinutes(minutes);
                    i++;
                    break;
                default: return Usage($"unknown argument '{args[i]}'");
            }
        }
        if (string.IsNullOrWhiteSpace(user)) return Usage("--user must not be empty");
        try
        {
            Console.WriteLine(Create(config, user, roles, lifetime));
            return 0;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            Console.Error.WriteLine(ex.Message);
            return 2;
        }
    }

    /// <summary>A token for <paramref name="user"/> valid for <paramref name="lifetime"/>, for the gateway configured by <paramref name="configFile"/>.</summary>
    public static string Create(string configFile, string user, IReadOnlyList<string> roles, TimeSpan lifetime)
    {
        if (!File.Exists(configFile)) throw new InvalidOperationException($"{configFile}: no such file (give --config)");
        var jwt = new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(configFile)).Build().GetSection("Gateway:Auth:Jwt");
        string secret = jwt["Secret"] is { Length: > 0 } s ? s
            : throw new InvalidOperationException($"{configFile} sets no Gateway:Auth:Jwt:Secret: this tool signs HS256 tokens with it");
        byte[] key = secret.StartsWith("base64:", StringComparison.Ordinal) ? Convert.FromBase64String(secret[7..]) : Encoding.UTF8.GetBytes(secret);
        var claims = new Dictionary<string, object> { [jwt["UserIdClaim"] is { Length: > 0 } u ? u : "sub"] = user };
        string roleClaim = jwt["RoleClaim"] is { Length: > 0 } r ? r : "role";
        if (roles.Count == 1) claims[roleClaim] = roles[0];
        else if (roles.Count > 1) claims[roleClaim] = roles.ToArray();
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            Issuer = jwt["Issuer"] is { Length: > 0 } iss ? iss : null,
            Audience = jwt["Audience"] is { Length: > 0 } aud ? aud : null,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(key), SecurityAlgorithms.HmacSha256),
        });
    }

    private static int Usage(string problem)
    {
        Console.Error.WriteLine(problem);
        Console.Error.WriteLine("usage: Gateway.Token [--config FILE] [--user NAME] [--roles a,b] [--minutes N]   (make token USER=ada ROLES=admin)");
        return 1;
    }
}
