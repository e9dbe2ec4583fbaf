using ControlPlane.Server.Hosting;

// The control host: gateway, scheduler and dispatcher grains, and simulated engines; no TorchSharp.
return await ControlPlaneHost.RunAsync(args);
