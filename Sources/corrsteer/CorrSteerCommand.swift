import ArgumentParser
import CorrSteer

@main
struct CorrSteerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corrsteer",
        abstract: "Find SAE features that predict a correct answer, steer with them, and measure the result.",
        discussion: HelpText.discussion(
            "CorrSteer (arXiv 2508.12535) on the CPU, from the model, SAE and data files you already have. "
                + "Every command has --help with examples.",
            examples: ["corrsteer demo", "corrsteer run -m MODEL --sae SAE --task xstest --data DATA -o runs/xs"],
            extra: [HelpText.placeholders, HelpText.environment
                        + "\n  CORRSTEER_DEMO       demo folder for an installed corrsteer demo"]),
        version: RunManifest.toolVersion,
        subcommands: [
            // One line per subcommand; each lives in its own file.
            DemoCommand.self,
            RunCommand.self,
            CollectCommand.self,
            SelectCommand.self,
            EvaluateCommand.self,
            MergeCommand.self,
            TasksCommand.self,
            BenchCommand.self,
            FeaturesCommand.self,
            ReportCommand.self,
            ExportCommand.self,
            SAEEncodeCommand.self,
            SAEInfoCommand.self,
            TokenizeCommand.self,
            ForwardCommand.self,
            GenerateCommand.self,
            ServeCommand.self,
        ]
    )

    /// ArgumentParser's `main`, with library errors reworded to name flags (`FlagNames`).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: FlagNames.userFacing(error))
        }
    }
}
