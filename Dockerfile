# syntax=docker/dockerfile:1
# Multi-stage: build with the SDK, run on the small ASP.NET-free runtime image as a non-root user.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Gateway.Host -c Release -o /out/gateway \
 && if [ -d src/Gateway.Samples ]; then dotnet publish src/Gateway.Samples -c Release -o /out/plugins/Gateway.Samples; fi

FROM mcr.microsoft.com/dotnet/runtime:10.0 AS runtime
WORKDIR /app
COPY --from=build /out/gateway/ /app/
COPY --from=build /out/plugins/ /app/plugins/
COPY appsettings.json /app/appsettings.json
ENV DOTNET_gcServer=0 \
    Gateway__Listen__0=0.0.0.0:8080
EXPOSE 8080
# Plugins are mounted here; the image's sample plugins are the default content.
VOLUME ["/app/plugins"]
USER app
# Orchestrators should probe GET /healthz (liveness) and GET /readyz (readiness) on port 8080.
ENTRYPOINT ["dotnet", "/app/Gateway.Host.dll"]
