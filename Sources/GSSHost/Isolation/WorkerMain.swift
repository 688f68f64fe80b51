import CGSSPlugin
import CGSSSystem
import Glibc

/// What a worker process (`gss worker …`, started by gss itself, never by people) runs.
public enum WorkerMain {
    /// Exit status for a command line gss did not write.
    static let usageStatus: Int32 = 64
    /// Exit status when the parent was already gone at start.
    static let orphanStatus: Int32 = 70

    public static func run(arguments: [String]) -> Never {
        guard let invocation = WorkerInvocation(arguments: arguments) else {
            StandardError.write("gss worker: this command is started by gss itself\n")
            exit(usageStatus)
        }
        // The kernel kills a worker whose parent goes (even by SIGKILL), so none outlives gss;
        // checking the parent's id closes the window in which it went before we asked.
        _ = gss_die_with_parent()
        guard getppid() == invocation.parent else { exit(orphanStatus) }
        switch invocation.role {
        case .evaluate: IsolatedWorkerServer.serve(invocation)
        case .check(let name): ConformanceProbe.run(check: name, invocation: invocation)
        }
        exit(0)
    }
}

/// The worker side of IsolatedPluginBlackBox: load and instantiate the plugin, say hello, then
/// evaluate batches from shared memory until the parent closes the socket.
enum IsolatedWorkerServer {
    static func serve(_ invocation: WorkerInvocation) {
        let socket = MessageSocket(fd: WorkerDescriptors.socket)
        let memory = SharedMemory(inherited: WorkerDescriptors.sharedMemory)
        let instance: PluginInstance
        var hello = WorkerHello()
        do {
            let library = try PluginLibrary.open(path: invocation.pluginPath)
            instance = try library.instantiate(options: invocation.options.map(\.pair))
            hello.description = WorkerHello.Description(
                id: library.id, inputCount: instance.inputCount, outputCount: instance.outputCount,
                outputShape: try instance.outputShape(), defaultInputBits: instance.defaultInput()?.map(\.bitPattern),
                typicalScaleBits: try instance.typicalScale()?.map(\.bitPattern), flags: library.flags)
        } catch {
            hello.failure = WorkerHello.Failure(code: error.code.rawValue, message: error.message)
            try? socket.sendFrame(kind: FrameKind.hello.rawValue, payload: hello.encoded())
            return
        }
        do {
            try socket.sendFrame(kind: FrameKind.hello.rawValue, payload: hello.encoded())
            try serveRequests(instance: instance, socket: socket, memory: memory)
        } catch {
            // .closed is the parent saying goodbye; anything else leaves nobody to tell.
        }
        // The instance is destroyed here, as `instance` goes out of scope, before the process exits.
    }

    private static func serveRequests(instance: PluginInstance, socket: MessageSocket, memory: SharedMemory) throws(ChannelError) {
        let message = UnsafeMutablePointer<CChar>.allocate(capacity: PluginInstance.errorCapacity)
        defer { message.deallocate() }
        let n = instance.inputCount
        let m = instance.outputCount
        while true {
            let frame = try socket.receiveFrame()
            guard frame.kind == FrameKind.evaluate.rawValue else { throw .malformed("kind \(frame.kind)") }
            let request = try EvaluateRequest(decoding: frame.payload)
            let inputBytes = request.rows * n * MemoryLayout<Double>.stride
            guard request.rows >= 1, inputBytes + request.rows * m * MemoryLayout<Double>.stride <= request.mappingSize else {
                throw .malformed("\(request.rows) rows do not fit \(request.mappingSize) bytes")
            }
            try memory.map(size: request.mappingSize)
            let x = memory.base!.assumingMemoryBound(to: Double.self)
            let y = (memory.base! + inputBytes).assumingMemoryBound(to: Double.self)
            var reply: [UInt8] = [1]
            do {
                try instance.evaluate(x, rows: request.rows, into: y, error: message)
            } catch {
                reply = [0] + Array(error.message.utf8)
            }
            try socket.sendFrame(kind: FrameKind.evaluated.rawValue, payload: reply)
        }
    }
}
