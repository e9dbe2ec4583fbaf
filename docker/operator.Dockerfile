# The operator. Build from the repository root:
#   docker build -f docker/operator.Dockerfile -t ghcr.io/controlplane-dev/operator:0.1.0 .
# (Not built here: this machine has no Docker engine.)
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish operators/ControlPlane.Operator -c Release -o /app

FROM mcr.microsoft.com/dotnet/runtime:10.0
WORKDIR /app
COPY --from=build /app .
USER app
ENTRYPOINT ["dotnet", "ControlPlane.Operator.dll"]
