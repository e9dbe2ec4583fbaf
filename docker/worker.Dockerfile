# A GPU worker: ControlPlane.Worker (the host with the TorchSharp engine) built against TorchSharp-cuda-linux,
# on a CUDA runtime base. Build from the repository root:
#   docker build -f docker/worker.Dockerfile -t ghcr.io/controlplane-dev/worker:0.1.0 .
# (Not built here: no Docker engine, and TorchSharp-cuda-linux is not served by this machine's NuGet mirror.)
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/ControlPlane.Worker -c Release -o /app -p:TorchBackend=cuda

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
RUN apt-get update && apt-get install -y --no-install-recommends aspnetcore-runtime-10.0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
ENV ASPNETCORE_URLS=http://+:8080
EXPOSE 8080 11111
ENTRYPOINT ["dotnet", "ControlPlane.Worker.dll"]
