using ControlPlane.Server.Hosting;
using ControlPlane.Worker.Engines;

// The worker host: everything the control host runs, plus TorchSharp engines (today the all-in-one of `make run`).
return await ControlPlaneHost.RunAsync(args, [new TorchEngineBackend()]);
