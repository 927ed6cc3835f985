; Inno Setup 6 script: a per-user installer for the one-folder Windows build.
;   python packaging\build.py                  (on Windows: makes dist\LatentAtelier)
;   iscc packaging\windows\latent_atelier.iss  (makes dist\LatentAtelier-<version>-setup.exe)
; Per-user (no administrator rights needed), into %LOCALAPPDATA%\Programs like
; other per-user apps. Runs, settings and logs live in %APPDATA%\LatentAtelier
; and are never removed by the uninstaller: they are the user's work.

#define AppName "Latent Atelier"
#define AppExe "LatentAtelier.exe"
; Keep in step with engine/__init__.py (__version__); build.py prints it.
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{8BCA68EB-F849-4C93-B836-0E15D0BB5704}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher={#AppName}
DefaultDirName={localappdata}\Programs\LatentAtelier
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=LatentAtelier-{#AppVersion}-setup
SetupIconFile=..\..\resources\icons\latent-atelier.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2/ultra64
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
WizardStyle=modern

[Files]
Source: "..\..\dist\LatentAtelier\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\{#AppExe}"; Description: "Start {#AppName}"; Flags: nowait postinstall skipifsilent
