# The control silo: gateway, schedulers, request grains; no TorchSharp, no libtorch. Build from the repository root:
#   docker build -f docker/control.Dockerfile -t ghcr.io/controlplane-dev/control:0.1.0 .
# (Not built here: this machine has no Docker engine.)
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/ControlPlane.Server -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
ENV ASPNETCORE_URLS=http://+:8080
EXPOSE 8080 11111 30000
ENTRYPOINT ["dotnet", "ControlPlane.Server.dll"]
